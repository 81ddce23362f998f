import { createRequire } from 'module';
const require = createRequire(new URL('../../../package.json', import.meta.url)); // bench/'s playwright-core
const { chromium } = require('playwright-core');
import { readFileSync } from 'fs';
const wasm = readFileSync(new URL('target/wasm32-unknown-unknown/release/f32micro.wasm', import.meta.url)).toString('base64');
const ks = (process.argv[2] ?? 't4x8,t5x8,t6x8,t3x8').split(',');
const flops = Number(process.argv[3] ?? 2 * 480 * 256 * 512);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage();
const out = await page.evaluate(async ([b64, ks, flops]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const { instance } = await WebAssembly.instantiate(bytes);
  const f = instance.exports;
  const t = Object.fromEntries(ks.map((k) => [k, []]));
  for (let i = 0; i < 5; i++) for (const k of ks) f[k]();
  for (let i = 0; i < 60; i++) for (const k of ks) { const s = performance.now(); for (let j = 0; j < 4; j++) f[k](); t[k].push((performance.now() - s) / 4); }
  const r = [];
  for (const k of ks) { const v = t[k].sort((a, b) => a - b); r.push(`${k} min ${v[0].toFixed(3)} ms p10 ${v[6].toFixed(3)} GFLOP/s(p10) ${(flops / v[6] / 1e6).toFixed(1)}`); }
  return r.join('\n');
}, [wasm, ks, flops]);
console.log(out);
await browser.close();
