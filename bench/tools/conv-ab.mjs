#!/usr/bin/env node
// Interleaved A/B of two built wasmnn packages on convolutions the peers' grammar cannot name
// (non-square planes, different vertical and horizontal strides, a batch), in one Node process:
//
//   node bench/tools/conv-ab.mjs --a A/wasmnn.js --b B/wasmnn.js "C H W K SH SW PAD [N [G]]" ...
//
// Each case is a K x K convolution of N x C x H x W NCHW input with C outputs, strides SH, SW,
// PAD on every side and G groups (default C: depthwise), random weights, no bias. Both packages
// run `Conv2d.run_into`, alternating sample by sample (samples of 5 calls); prints the 10th
// percentiles and B/A, as bench/ab.mjs does for the peers' cases.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRelaxedSimd, loadPkgNode, optionReader, wasmPathOf } from '../src/node.mjs';

const USAGE = 'usage: node bench/tools/conv-ab.mjs --a PKG_JS --b PKG_JS "C H W K SH SW PAD [N [G]]" ...';
const args = process.argv.slice(2);
const opt = optionReader(args, USAGE);
const [a, b] = ['--a', '--b'].map((name) => opt(name));
const cases = args.filter((x, i) => !x.startsWith('--') && !['--a', '--b'].includes(args[i - 1]));
if (!a || !b || cases.length === 0) {
  console.error(USAGE);
  process.exit(2);
}
const script = fileURLToPath(import.meta.url);
for (const pkg of [a, b]) await ensureRelaxedSimd(script, wasmPathOf(path.resolve(pkg)));
const pkgs = [];
for (const [p, tag] of [[a, 'a'], [b, 'b']]) pkgs.push((await loadPkgNode(p, tag)).wasm);

for (const spec of cases) {
  const [C, H, W, K, SH, SW, PAD, N = 1, G = C] = spec.trim().split(/\s+/).map(Number);
  if (![C, H, W, K, SH, SW, PAD, N, G].every(Number.isInteger) || C % G !== 0) {
    throw new Error(`case '${spec}': expected integers "C H W K SH SW PAD [N [G]]", G dividing C\n${USAGE}`);
  }
  const w = new Float32Array(C * (C / G) * K * K).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
  const x = new Float32Array(N * C * H * W).map((_, i) => ((i * 104729) % 17) / 17 - 0.5);
  const runs = pkgs.map((m) => {
    const conv = new m.Conv2d(w, undefined, C, C, [K, K], [SH, SW], [PAD, PAD, PAD, PAD], [1, 1], G, 'none');
    const [ho, wo] = conv.output_size(H, W);
    const y = new Float32Array(N * C * ho * wo);
    return () => conv.run_into(x, 'nchw', N, H, W, y);
  });
  for (let i = 0; i < 20; i++) runs.forEach((run) => run());
  const times = [[], []];
  for (let s = 0; s < 300; s++) {
    runs.forEach((run, v) => {
      const t = performance.now();
      for (let j = 0; j < 5; j++) run();
      times[v].push((performance.now() - t) / 5);
    });
  }
  const [pa, pb] = times.map((v) => v.sort((p, q) => p - q)[Math.floor(v.length / 10)]);
  console.log(`${spec}: A ${(pa * 1000).toFixed(1)} us  B ${(pb * 1000).toFixed(1)} us  B/A ${(pb / pa).toFixed(3)}`);
}
