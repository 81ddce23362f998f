#!/usr/bin/env node
// Interleaved A/B of two built wasmnn packages on one case, in one Node process:
//
//   node bench/ab.mjs --op conv --shape "dw128x56x56 k3s1p1" --a bench/pkg-relaxed/wasmnn.js \
//       --b target/ab-before/wasmnn.js [--samples 200] [--per 3]
//
// Both packages run the same call as `run.mjs` (its adapters and inputs), alternating sample by
// sample, so both see the same moments of a noisy host; a sample is `--per` back-to-back calls.
// Prints min, 10th percentile and median per package and B/A of the 10th percentiles. On a
// shared 2-vCPU machine, where a single median can move 30% between runs, this resolves
// differences of about 1% (an A/A run gives 0.99-1.01); run.mjs's side-by-side cannot.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeInputs, parseCase } from './src/cases.mjs';
import { ensureRelaxedSimd, loadPkgNode, optionReader, wasmPathOf } from './src/node.mjs';
import { ADAPTERS, spread } from './src/runner.mjs';

const USAGE = 'usage: node bench/ab.mjs --op OP --shape SHAPE --a PKG_JS --b PKG_JS [--samples N] [--per N]';
const opt = optionReader(process.argv.slice(2), USAGE);
const [op, shape, a, b] = ['--op', '--shape', '--a', '--b'].map((name) => opt(name));
if (!op || !shape || !a || !b) {
  console.error(USAGE);
  process.exit(2);
}
const samples = Number(opt('--samples', '200'));
const per = Number(opt('--per', '3'));
if (!(samples >= 1 && per >= 1)) throw new Error(`--samples and --per take counts >= 1\n${USAGE}`);
if (!ADAPTERS[op] || op === 'model') throw new Error(`op ${op}: not one of ${Object.keys(ADAPTERS).filter((o) => o !== 'model').join(', ')}`);

const script = fileURLToPath(import.meta.url);
for (const pkg of [a, b]) await ensureRelaxedSimd(script, wasmPathOf(path.resolve(pkg)));

const c = parseCase(op, shape);
const d = makeInputs(c);
const calls = [];
for (const [pkg, tag] of [[a, 'ab-a'], [b, 'ab-b']]) {
  const { wasm } = await loadPkgNode(pkg, tag);
  calls.push(ADAPTERS[op].call(wasm, c, d).run);
}
for (let i = 0; i < 10; i++) calls.forEach((run) => run());

const times = [[], []];
for (let s = 0; s < samples; s++) {
  calls.forEach((run, v) => {
    const t = performance.now();
    for (let i = 0; i < per; i++) run();
    times[v].push((performance.now() - t) / per);
  });
}
const stats = times.map(spread);
const ms = (x) => `${x.toPrecision(4)} ms`;
for (const [name, s] of [['A', stats[0]], ['B', stats[1]]]) {
  console.log(`${name}: min ${ms(s.min)}  p10 ${ms(s.p10)}  median ${ms(s.median)}`);
}
console.log(`${op} ${shape}: B/A (p10) = ${(stats[1].p10 / stats[0].p10).toFixed(3)}`);
