import { createRequire } from 'module';
const require = createRequire(new URL('../../../package.json', import.meta.url)); // bench/'s playwright-core
const { chromium } = require('playwright-core');
import { readFileSync } from 'fs';
const wasm = readFileSync('target/wasm32-unknown-unknown/release/i8micro.wasm').toString('base64');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage();
const out = await page.evaluate(async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const { instance } = await WebAssembly.instantiate(bytes);
  const f = instance.exports;
  const t = { dot2x4: [], bcast4x8: [] };
  for (let i = 0; i < 5; i++) { f.dot2x4(); f.bcast4x8(); }
  for (let i = 0; i < 40; i++) for (const k of ['dot2x4', 'bcast4x8']) { const s = performance.now(); for (let j = 0; j < 10; j++) f[k](); t[k].push((performance.now() - s) / 10); }
  const r = [];
  for (const k in t) { const v = t[k].sort((a, b) => a - b); r.push(`${k} min ${v[0].toFixed(3)} ms p10 ${v[4].toFixed(3)} GMAC/s ${(512 ** 3 / v[4] / 1e6).toFixed(1)}`); }
  return r.join('\n');
}, wasm);
console.log(out);
await browser.close();
