#!/usr/bin/env node
// Plain-JS smoke test of the built package through the loader (no test framework):
//   node js/smoke.mjs [--base bench/] [--build simd128|relaxed]
// Loads the artefact the loader picks (or the forced one), runs each exported class against a
// plain JS reference, checks that bad input throws an Error with the Rust message, prints one
// line per check and exits non-zero on any failure.
import { load, detect } from './wasmnn.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const base = new URL(arg('--base', 'bench/'), `file://${process.cwd()}/`);
let passed = 0, failed = 0;
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  if (ok) passed++; else failed++;
};
const close = (a, b, tol = 1e-4) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= tol * (1 + Math.abs(b[i])));

const { wasm, build, features } = await load({ base, build: arg('--build') });
check('loader picked a build', ['relaxed', 'simd128'].includes(build), `${build} (${JSON.stringify(features)})`);
const info = JSON.parse(wasm.build_info());
check('build_info matches the artefact', info.isa === (build === 'relaxed' ? 'relaxed-simd' : 'simd128'), info.isa);

const [m, k, n] = [3, 5, 7];
const A = Float32Array.from({ length: m * k }, (_, i) => (i % 5) - 2);
const B = Float32Array.from({ length: k * n }, (_, i) => (i % 3) - 1);
const ref = new Float32Array(m * n);
for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) ref[i * n + j] += A[i * k + p] * B[p * n + j];
const pm = new wasm.PackedMatrix(B, k, n);
check('PackedMatrix.matmul', close(pm.matmul(A, m), ref));
const into = new Float32Array(m * n);
pm.matmul_into(A, m, into);
check('PackedMatrix.matmul_into', close(into, ref));
const bias = Float32Array.from({ length: n }, (_, j) => j - 3);
const lin = new wasm.Linear(B, k, n, bias, 'relu');
check('Linear(relu).forward', close(lin.forward(A, m), ref.map((v, i) => Math.max(v + bias[i % n], 0))));
const conv = new wasm.Conv2d(new Float32Array(9).fill(1), undefined, 1, 1, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1, 'none');
check('Conv2d 3x3 box filter', close(conv.run(new Float32Array(16).fill(1), 'nchw', 1, 4, 4).slice(0, 4), [4, 6, 6, 4]));
check('Conv2d.method', conv.method('nchw', 4, 4) === 'depthwise'); // one channel in and out
const cb = conv.bench(new Float32Array(16).fill(1), 'nchw', 1, 4, 4);
cb.run(2);
check('Conv2d.bench (ConvBench) output', close(cb.output().slice(0, 4), [4, 6, 6, 4]));
cb.free();
for (const [what, f, msg] of [
  ['short input throws', () => pm.matmul(A.subarray(1), m), 'shape mismatch'],
  ['short out of matmul_into throws', () => pm.matmul_into(A, m, into.subarray(1)), 'length of out'],
  ['unknown activation throws', () => new wasm.Linear(B, k, n, undefined, 'swish2'), 'unknown activation'],
  ['bad conv layout throws', () => conv.run(new Float32Array(16), 'nwhc', 1, 4, 4), 'unknown layout'],
  ['short ConvBench input throws', () => conv.bench(new Float32Array(15), 'nchw', 1, 4, 4), 'input length'],
]) {
  try { f(); check(what, false, 'no exception'); } catch (e) { check(what, e instanceof Error && String(e.message).includes(msg), String(e.message)); }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
