// Benchmark cases, deterministic inputs and float64 JavaScript references.
//
// The case list, the shape grammar, the input generator (mulberry32, seed 1234, same draw order)
// and the check rule are those of the peer benchmarks (../shared/peers/src/cases.mjs), so that a
// wasmnn record and a peer record of the same op/shape compare like for like. Op `model` (whole
// ONNX models, end to end) is ours: see models.mjs.
import { MODEL_SHAPES, parseModelCase } from './models.mjs';

/** Cases whose reference costs more than this many FLOP are timed but not verified. */
export const VERIFY_MAX_FLOPS = 7e8;

/** Ops of the case list, in order. Ops wasmnn does not implement yet produce `skipped` records. */
export const OPS = ['overhead', 'matmul', 'conv', 'softmax', 'layernorm', 'int8_matmul', 'int8_dyn', 'fused', 'model'];

function matmulCase(M, K, N, extra = {}) {
  return { op: 'matmul', shape: `${M}x${K}x${N}`, M, K, N, flops: 2 * M * K * N, ...extra };
}

function convCase(shape, C, H, O, k, s, p, g = 1) {
  const Ho = Math.floor((H + 2 * p - k) / s) + 1;
  return { op: 'conv', shape, C, H, W: H, O, k, s, p, g, Ho, Wo: Ho, flops: 2 * O * Ho * Ho * (C / g) * k * k };
}

function rowsCase(op, R, C) {
  return { op, shape: `${R}x${C}`, R, C, bytes: 2 * 4 * R * C }; // read x, write y
}

const MATMUL_SHAPES = [[1, 512, 512], [1, 4096, 4096], [16, 512, 512], [64, 512, 512], [128, 768, 768],
  [128, 768, 3072], [256, 256, 256], [512, 512, 512], [1024, 1024, 1024]];
const INT8_SHAPES = [[128, 768, 768], [512, 512, 512], [1, 4096, 4096]];
const FUSED_VARIANTS = [['bias', 'all'], ['bias+relu', 'all'], ['bias+relu', 'disabled'], ['bias+gelu', 'all'],
  ['bias+gelu', 'disabled']];

/** The fixed case list (same order and labels as the peers). */
export const CASES = [
  { op: 'overhead', shape: '1x16 relu', R: 1, C: 16 },
  ...MATMUL_SHAPES.map(([M, K, N]) => matmulCase(M, K, N)),
  convCase('64x56x56->64 k3s1p1', 64, 56, 64, 3, 1, 1),
  convCase('3x224x224->32 k3s2p1', 3, 224, 32, 3, 2, 1),
  convCase('dw128x56x56 k3s1p1', 128, 56, 128, 3, 1, 1, 128),
  convCase('128x28x28->256 k1', 128, 28, 256, 1, 1, 0),
  rowsCase('softmax', 128, 1000), rowsCase('softmax', 12 * 128, 128),
  rowsCase('layernorm', 128, 768), rowsCase('layernorm', 512, 1024),
  ...INT8_SHAPES.flatMap(([M, K, N]) => [
    { ...matmulCase(M, K, N), op: 'int8_matmul' }, { ...matmulCase(M, K, N), op: 'int8_dyn' }]),
  ...FUSED_VARIANTS.map(([act, opt]) => matmulCase(128, 768, 3072, {
    op: 'fused', act, opt, shape: `128x768x3072 ${act}${opt === 'disabled' ? ' [opt off]' : ''}`,
  })),
  ...MODEL_SHAPES.map(parseModelCase),
];

/**
 * Parses one shape of the grammar (for cases outside the fixed list):
 *   matmul | int8_matmul | int8_dyn: "MxKxN"; fused: "MxKxN bias|bias+relu|bias+gelu";
 *   conv: "CxHxW->O kKsSpP" (H = W) or "dwCxHxW kKsSpP"; softmax | layernorm: "RxC".
 * Throws on a shape that does not fit the op.
 */
export function parseCase(op, shape) {
  const bad = () => { throw new Error(`shape '${shape}' does not fit op ${op}`); };
  const dims = (s, count) => {
    const d = s.split('x').map(Number);
    if (d.length !== count || !d.every((v) => Number.isInteger(v) && v >= 1)) bad();
    return d;
  };
  switch (op) {
    case 'matmul': case 'int8_matmul': case 'int8_dyn':
      return { ...matmulCase(...dims(shape, 3)), op };
    case 'fused': {
      const [d, act = 'bias'] = shape.split(' ');
      if (!['bias', 'bias+relu', 'bias+gelu'].includes(act)) bad();
      const [M, K, N] = dims(d, 3);
      return matmulCase(M, K, N, { op: 'fused', act, opt: 'all', shape });
    }
    case 'conv': {
      const num = (v, dflt) => (v === undefined ? dflt : Number(v));
      let m = shape.match(/^(\d+)x(\d+)x(\d+)->(\d+) k(\d+)(?:s(\d+))?(?:p(\d+))?$/);
      if (m) {
        const [C, H, W, O, k] = m.slice(1, 6).map(Number);
        if (H !== W) bad();
        return convCase(shape, C, H, O, k, num(m[6], 1), num(m[7], 0));
      }
      m = shape.match(/^dw(\d+)x(\d+)x(\d+) k(\d+)(?:s(\d+))?(?:p(\d+))?$/);
      if (m) {
        const [C, H, W, k] = m.slice(1, 5).map(Number);
        if (H !== W) bad();
        return convCase(shape, C, H, C, k, num(m[5], 1), num(m[6], 0), C);
      }
      return bad();
    }
    case 'softmax': case 'layernorm': {
      const [R, C] = dims(shape, 2);
      return rowsCase(op, R, C);
    }
    case 'model':
      return parseModelCase(shape);
    default:
      return bad();
  }
}

/** mulberry32: a tiny deterministic PRNG, uniform in [0, 1). */
export function mulberry32(seed) {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic inputs of a case (same values, in the same draw order, as the peers). */
export function makeInputs(c) {
  const r = mulberry32(1234);
  const f32 = (n) => { const v = new Float32Array(n); for (let i = 0; i < n; i++) v[i] = r() * 2 - 1; return v; };
  const i8 = (n) => { const v = new Int8Array(n); for (let i = 0; i < n; i++) v[i] = Math.floor(r() * 256) - 128; return v; };
  switch (c.op) {
    case 'matmul': case 'fused': {
      const A = f32(c.M * c.K), B = f32(c.K * c.N);
      return { A, B, bias: f32(c.N) };
    }
    case 'int8_dyn': {
      const A = f32(c.M * c.K);
      return { A, Bq: i8(c.K * c.N), bScale: 0.01 };
    }
    case 'int8_matmul': {
      const A = new Uint8Array(c.M * c.K);
      for (let i = 0; i < A.length; i++) A[i] = Math.floor(r() * 256);
      return { A, aZero: 128, Bq: i8(c.K * c.N) };
    }
    case 'conv': { // NCHW input, OIHW weights, bias per output channel
      const X = f32(c.C * c.H * c.W), Wt = f32(c.O * (c.C / c.g) * c.k * c.k);
      return { X, Wt, bias: f32(c.O) };
    }
    default: { // overhead, softmax, layernorm
      const X = f32(c.R * c.C), gamma = f32(c.C);
      return { X, gamma, beta: f32(c.C) };
    }
  }
}

/** C = A B in float64 (A: M x K, B: K x N, row-major). */
export function matmulF64(A, B, M, K, N) {
  const C = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    const row = m * N;
    for (let k = 0; k < K; k++) {
      const a = A[m * K + k];
      if (a === 0) continue;
      const off = k * N;
      for (let n = 0; n < N; n++) C[row + n] += a * B[off + n];
    }
  }
  return C;
}

/** erf, Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7). */
export function erf(x) {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  return Math.sign(x) * (1 - poly * Math.exp(-x * x));
}

/** The float64 reference output of a case, in the layout wasmnn returns (row-major / NCHW). */
export function reference(c, d) {
  const { M, K, N } = c;
  switch (c.op) {
    case 'overhead': return Float64Array.from(d.X, (x) => Math.max(x, 0));
    case 'matmul': return matmulF64(d.A, d.B, M, K, N);
    case 'int8_matmul': return matmulF64(Float64Array.from(d.A, (a) => a - d.aZero), d.Bq, M, K, N);
    case 'int8_dyn': return matmulF64(d.A, Float64Array.from(d.Bq, (b) => b * d.bScale), M, K, N);
    case 'fused': {
      const y = matmulF64(d.A, d.B, M, K, N);
      for (let i = 0; i < y.length; i++) {
        const v = y[i] + d.bias[i % N];
        if (c.act === 'bias') y[i] = v;
        else if (c.act === 'bias+relu') y[i] = Math.max(v, 0);
        else y[i] = 0.5 * v * (1 + erf(v / Math.SQRT2));
      }
      return y;
    }
    case 'conv': {
      const { C, H, W, O, k, s, p, g, Ho, Wo } = c, cg = C / g, og = O / g;
      const y = new Float64Array(O * Ho * Wo);
      for (let o = 0; o < O; o++) {
        const c0 = Math.floor(o / og) * cg;
        for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
          let acc = d.bias[o];
          for (let ci = 0; ci < cg; ci++) for (let ky = 0; ky < k; ky++) {
            const iy = oy * s - p + ky;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * s - p + kx;
              if (ix < 0 || ix >= W) continue;
              acc += d.X[((c0 + ci) * H + iy) * W + ix] * d.Wt[((o * cg + ci) * k + ky) * k + kx];
            }
          }
          y[(o * Ho + oy) * Wo + ox] = acc;
        }
      }
      return y;
    }
    case 'softmax': case 'layernorm': {
      const { R, C } = c, y = new Float64Array(R * C);
      for (let r = 0; r < R; r++) {
        const x = d.X.subarray(r * C, (r + 1) * C), o = r * C;
        if (c.op === 'softmax') {
          let mx = -Infinity, sum = 0;
          for (const v of x) mx = Math.max(mx, v);
          for (let i = 0; i < C; i++) sum += (y[o + i] = Math.exp(x[i] - mx));
          for (let i = 0; i < C; i++) y[o + i] /= sum;
        } else {
          let mean = 0, variance = 0;
          for (const v of x) mean += v / C;
          for (const v of x) variance += (v - mean) ** 2 / C;
          const inv = 1 / Math.sqrt(variance + 1e-5);
          for (let i = 0; i < C; i++) y[o + i] = (x[i] - mean) * inv * d.gamma[i] + d.beta[i];
        }
      }
      return y;
    }
    default: throw new Error(`no reference for op ${c.op}`);
  }
}

/**
 * max|out - ref| / max|ref| <= 1e-3 -> "ok", else "FAIL" (int8_matmul: exact match;
 * int8_dyn: <= 0.05, as the activations are quantized; model: max|out - ORT-web's out| <= 1e-3,
 * absolute). A length mismatch always fails.
 */
export function check(c, out, ref) {
  let err = out.length === ref.length ? 0 : Infinity, scale = 1e-30;
  for (let i = 0; i < ref.length; i++) {
    const diff = Math.abs(out[i] - ref[i]);
    if (!(diff <= err)) err = Number.isNaN(diff) ? Infinity : diff;
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  const exact = c.op === 'int8_matmul';
  const rel = exact || c.op === 'model' ? err : err / scale;
  const tol = exact ? 0 : c.op === 'int8_dyn' ? 0.05 : 1e-3;
  return { check: rel <= tol ? 'ok' : 'FAIL', max_err: Number(rel.toPrecision(3)) };
}
