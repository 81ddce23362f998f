#!/usr/bin/env node
// GEMM demo in Node: wasmnn's PackedMatrix.matmul against a naive JavaScript triple loop.
//
//   node demo.mjs [--pkg pkg-simd128/wasmnn.js]
//
// For each shape: max error of wasmnn relative to a float64 reference, GFLOP/s of both, speed-up.
// Exits 1 if an error exceeds 1e-3 (relative to max|ref|), 2 on a usage error.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeInputs, matmulF64 } from './src/cases.mjs';
import { ensureRelaxedSimd, loadPkgNode, wasmPathOf } from './src/node.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHAPES = [[1, 512, 512], [64, 512, 512], [256, 256, 256], [128, 768, 3072]];
const TOLERANCE = 1e-3;

function parseArgs(argv) {
  let pkg = path.join(HERE, 'pkg-simd128', 'wasmnn.js');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--pkg' && i + 1 < argv.length) pkg = argv[++i];
    else {
      process.stderr.write(`unknown argument ${argv[i]}\nusage: node demo.mjs [--pkg PATH/wasmnn.js]\n`);
      process.exit(2);
    }
  }
  pkg = path.resolve(pkg);
  if (!fs.existsSync(pkg) || !fs.existsSync(wasmPathOf(pkg))) {
    process.stderr.write(`missing ${pkg} or its .wasm: build the package with wasm-bindgen --target web first\n`);
    process.exit(2);
  }
  return { pkg };
}

/** The textbook i-j-k loop on Float32Arrays, accumulating in a JS number (float64). */
function naiveMatmul(A, B, M, K, N) {
  const C = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += A[i * K + k] * B[k * N + j];
      C[i * N + j] = acc;
    }
  }
  return C;
}

/** Median ms per call over >= 3 calls and >= minMs of total time (after one warm-up call). */
function timeIt(f, minMs) {
  f();
  const samples = [];
  const start = performance.now();
  while (samples.length < 3 || performance.now() - start < minMs) {
    const t = performance.now();
    f();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

function maxRelErr(out, ref) {
  let err = 0, scale = 1e-30;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(out[i] - ref[i]);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return out.length === ref.length ? err / scale : Infinity;
}

const args = parseArgs(process.argv.slice(2));
await ensureRelaxedSimd(fileURLToPath(import.meta.url), wasmPathOf(args.pkg)); // relaxed builds on Node 20
const { wasm, binary } = await loadPkgNode(args.pkg);
console.log(`wasmnn ${wasm.build_info()} from ${binary}, node ${process.versions.node}`);
console.log(`${'M x K x N'.padEnd(16)}${'max rel err'.padEnd(14)}${'wasmnn'.padEnd(22)}${'naive JS'.padEnd(22)}speed-up`);

let ok = true;
for (const [M, K, N] of SHAPES) {
  const d = makeInputs({ op: 'matmul', M, K, N });
  const flops = 2 * M * K * N;
  const pm = new wasm.PackedMatrix(d.B, K, N);
  try {
    const err = maxRelErr(pm.matmul(d.A, M), matmulF64(d.A, d.B, M, K, N));
    const tWasm = timeIt(() => pm.matmul(d.A, M), 300);
    const tJs = timeIt(() => naiveMatmul(d.A, d.B, M, K, N), 300);
    const rate = (ms) => `${ms.toPrecision(3)} ms ${(flops / ms / 1e6).toFixed(2)} GF/s`;
    const pass = err <= TOLERANCE;
    ok &&= pass;
    console.log(`${`${M}x${K}x${N}`.padEnd(16)}${`${err.toExponential(2)}${pass ? '' : ' FAIL'}`.padEnd(14)}`
      + `${rate(tWasm).padEnd(22)}${rate(tJs).padEnd(22)}${(tJs / tWasm).toFixed(1)}x`);
  } finally {
    pm.free();
  }
}
if (!ok) console.error(`error above ${TOLERANCE}: FAIL`);
process.exitCode = ok ? 0 : 1;
