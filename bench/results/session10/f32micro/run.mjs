import { readFileSync } from 'fs';
const { instance } = await WebAssembly.instantiate(readFileSync(new URL('target/wasm32-unknown-unknown/release/f32micro.wasm', import.meta.url)));
const f = instance.exports;
const flops = 2 * 480 * 256 * 512;
const ks = (process.argv[2] ?? 't4x8,t5x8,t6x8,t3x8').split(',');
const t = Object.fromEntries(ks.map((k) => [k, []]));
for (let i = 0; i < 5; i++) for (const k of ks) f[k]();
for (let i = 0; i < 60; i++) for (const k of ks) { const s = performance.now(); f[k](); t[k].push(performance.now() - s); }
for (const k of ks) { const v = t[k].sort((a, b) => a - b); console.log(k, 'min', v[0].toFixed(3), 'ms  p10', v[6].toFixed(3), ' GFLOP/s(p10)', (flops / v[6] / 1e6).toFixed(1)); }
