import { readFileSync } from 'fs';
const { instance } = await WebAssembly.instantiate(readFileSync('target/wasm32-unknown-unknown/release/i8micro.wasm'));
const f = instance.exports;
const macs = 512 ** 3;
const t = { dot2x4: [], bcast4x8: [] };
for (let i = 0; i < 5; i++) { f.dot2x4(); f.bcast4x8(); }
for (let i = 0; i < 40; i++) for (const k of ['dot2x4', 'bcast4x8']) { const s = performance.now(); f[k](); t[k].push(performance.now() - s); }
for (const k in t) { const v = t[k].sort((a, b) => a - b); console.log(k, 'min', v[0].toFixed(3), 'ms  p10', v[4].toFixed(3), ' GMAC/s', (macs / v[4] / 1e6).toFixed(1)); }
