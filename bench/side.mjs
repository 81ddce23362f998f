#!/usr/bin/env node
// Interleaved side-by-side of wasmnn and the peers on one case, in one Node process:
//
//   node bench/side.mjs --op conv --shape "64x56x56->64 k3s1p1" [--pkg bench/pkg-relaxed/wasmnn.js]
//       [--samples 60] [--peer ort-web,tfjs-wasm]
//
// run.mjs times every runtime in a process of its own, one after the other, so on a shared host
// each ratio also measures how busy the neighbours were while each ran (medians of one case
// moved 5-40% between runs here). This runs wasmnn, ORT-web and tfjs-wasm on the same inputs,
// alternating sample by sample (a sample is as many calls as last >= 2 ms), so all of them see
// the same moments. Same calls as run.mjs (its adapters: copy in, run, copy out; the peers'
// `prepare`), outputs checked against the reference first; each sample follows a garbage
// collection and an untimed call (the other runtimes' garbage and data are not its own). Prints min, 10th percentile
// and median per runtime and the ratio faster peer / wasmnn for each statistic.
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { check, makeInputs, parseCase, reference, VERIFY_MAX_FLOPS } from './src/cases.mjs';
import { ensureRelaxedSimd, loadPkgNode, optionReader, wasmPathOf } from './src/node.mjs';
import { createOrtPeer } from './src/peers/ort.mjs';
import { createTfjsPeer } from './src/peers/tfjs.mjs';
import { ADAPTERS, spread } from './src/runner.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const USAGE = 'usage: node bench/side.mjs --op OP --shape SHAPE [--pkg PKG_JS] [--samples N] [--peer ort-web,tfjs-wasm]';
const opt = optionReader(process.argv.slice(2), USAGE);
const [op, shape] = ['--op', '--shape'].map((name) => opt(name));
if (!op || !shape) {
  console.error(USAGE);
  process.exit(2);
}
const pkg = path.resolve(opt('--pkg', path.join(HERE, 'pkg-relaxed', 'wasmnn.js')));
const samples = Number(opt('--samples', '60'));
const peers = opt('--peer', 'ort-web,tfjs-wasm').split(',').filter(Boolean);
if (!(samples >= 5)) throw new Error(`--samples takes a count >= 5\n${USAGE}`);
if (!ADAPTERS[op] || op === 'model') throw new Error(`op ${op}: not one of ${Object.keys(ADAPTERS).filter((o) => o !== 'model').join(', ')}`);
await ensureRelaxedSimd(fileURLToPath(import.meta.url), wasmPathOf(pkg));

// ORT writes its session log to fd 2 with fs.writeSync: keep it off the terminal.
const { writeSync } = fs;
fs.writeSync = function quiet(fd, str, ...rest) {
  if (typeof str === 'string' && /\[[VIWE]:onnxruntime/.test(str)) return Buffer.byteLength(str);
  return writeSync.call(this, fd, str, ...rest);
};

const c = parseCase(op, shape);
const d = makeInputs(c);
const ref = (c.flops ?? 0) <= VERIFY_MAX_FLOPS ? reference(c, d) : null;

// Every runtime as { name, run: async () => output, fix?, dispose }.
const runtimes = [];
const { wasm } = await loadPkgNode(pkg, 'side');
const ours = ADAPTERS[op].call(wasm, c, d);
runtimes.push({ name: `wasmnn ${path.basename(path.dirname(pkg))}`, run: async () => ours.run(), fix: ours.fix, dispose: () => ours.free() });
for (const peer of peers) {
  const impl = peer === 'ort-web'
    ? await createOrtPeer(await import('onnxruntime-web'), 1, [])
    : peer === 'tfjs-wasm'
      ? await createTfjsPeer({ tf: await import('@tensorflow/tfjs-core'), wasm: await import('@tensorflow/tfjs-backend-wasm') }, 1)
      : null;
  if (!impl) throw new Error(`unknown peer ${peer}\n${USAGE}`);
  const skip = impl.skipReason(c);
  if (skip) { console.error(`${peer}: ${skip}`); continue; }
  const p = await impl.prepare(c, d);
  runtimes.push({ name: peer, run: p.run, fix: p.fix, dispose: p.dispose });
}

// Check, warm up, and size each runtime's batch (>= 2 ms per sample).
for (const r of runtimes) {
  if (ref) {
    const v = check(c, (r.fix ?? ((y) => y))(await r.run()), ref);
    if (v.check !== 'ok') throw new Error(`${r.name}: output check ${v.check} (max_err ${v.max_err})`);
  }
  const t0 = performance.now();
  let calls = 0;
  while (calls < 3 || (performance.now() - t0 < 100 && calls < 1000)) { await r.run(); calls++; }
  r.batch = Math.max(1, Math.ceil(2 / Math.max((performance.now() - t0) / calls, 1e-4)));
  r.times = [];
}
// A full garbage collection before every sample, untimed: the peers allocate their outputs
// (megabytes per call), and in one process a collection they caused would otherwise land in
// whichever runtime's sample is running.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
for (let s = 0; s < samples; s++) {
  for (const r of runtimes) {
    gc();
    await r.run(); // untimed: the other runtimes' data went through the caches since
    const t = performance.now();
    for (let i = 0; i < r.batch; i++) await r.run();
    r.times.push((performance.now() - t) / r.batch);
  }
}
for (const r of runtimes) {
  r.s = spread(r.times);
  await r.dispose();
}
const ms = (x) => `${x.toPrecision(4)} ms`;
console.log(`${op} ${shape}: ${samples} interleaved samples`);
for (const r of runtimes) console.log(`  ${r.name.padEnd(24)} min ${ms(r.s.min)}  p10 ${ms(r.s.p10)}  median ${ms(r.s.median)}`);
const theirs = runtimes.slice(1);
if (theirs.length) {
  const ratio = (k) => {
    const best = theirs.reduce((a, b) => (a.s[k] < b.s[k] ? a : b));
    return `${(best.s[k] / runtimes[0].s[k]).toFixed(2)}x (${best.name})`;
  };
  console.log(`  faster peer / wasmnn: min ${ratio('min')}, p10 ${ratio('p10')}, median ${ratio('median')}`);
}
process.exit(0); // ORT's worker threads would keep the process alive
