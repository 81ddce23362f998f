// Peer "tfjs-wasm": @tensorflow/tfjs-core with @tensorflow/tfjs-backend-wasm (XNNPACK kernels).
// One call = `tf.tensor(x)` (copy in) + the op + `dataSync()` (copy out); weights are tensors
// created once. The backend's convolutions are NHWC only: conv cases get the same data in NHWC
// (transposed once, outside the timing) and the output is transposed back for the check only.

const NODE_NO_THREADS = 'tfjs-backend-wasm disables threads under Node (WASM_HAS_MULTITHREAD_SUPPORT is false when'
  + ' IS_NODE, tfjs issue #3830); forcing the flag fails: its pthread worker is a blob: URL';

/** Batch-1 relayout between channel-major [C, HW] (NCHW) and [HW, C] (NHWC). */
function relayout(x, C, HW, toNhwc) {
  const y = new Float32Array(x.length);
  for (let ch = 0; ch < C; ch++) {
    for (let i = 0; i < HW; i++) {
      if (toNhwc) y[i * C + ch] = x[ch * HW + i];
      else y[ch * HW + i] = x[i * C + ch];
    }
  }
  return y;
}

/** OIHW weights as tfjs filters: HWIO, or [k, k, C, 1] for a depthwise conv. */
function filterOf(c, Wt) {
  const { C, O, k, g } = c, cg = C / g, dw = g > 1;
  const f = new Float32Array(Wt.length);
  for (let o = 0; o < O; o++) for (let ci = 0; ci < cg; ci++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
    const src = ((o * cg + ci) * k + ky) * k + kx;
    f[dw ? (ky * k + kx) * C + o : ((ky * k + kx) * cg + ci) * O + o] = Wt[src];
  }
  return { data: f, shape: dw ? [k, k, C, 1] : [k, k, cg, O] };
}

/** The peer, initialised for `threads`; `wasmDir` is where the page serves the backend's .wasm files. */
export async function createTfjsPeer({ tf, wasm }, threads, wasmDir) {
  wasm.setThreadsCount(threads);
  if (wasmDir) wasm.setWasmPaths(wasmDir);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend failed to initialise');
  await tf.ready();
  return {
    version: wasm.version_wasm,
    threadsEffective: () => wasm.getThreadsCount(),
    threadsNote: tf.env().get('IS_NODE') ? NODE_NO_THREADS : undefined,
    skipReason(c) {
      if (c.op === 'model') return 'tfjs cannot run ONNX models';
      if (c.op.startsWith('int8')) return 'tfjs has no int8 matmul kernel';
      if (c.opt === 'disabled') return 'ORT-only variant (graph optimizations off)';
      if (c.act === 'bias+gelu') return 'tfjs fused matMul has no GELU activation';
      return null;
    },
    prepare(c, d) {
      const weights = [];
      const constant = (v, shape) => { const t = tf.tensor(v, shape); weights.push(t); return t; };
      let x = d.X ?? d.A, xShape, op, fix = (y) => y;
      if (c.op === 'overhead') {
        xShape = [c.R, c.C]; op = (t) => tf.relu(t);
      } else if (c.op === 'matmul') {
        const b = constant(d.B, [c.K, c.N]);
        xShape = [c.M, c.K]; op = (t) => tf.matMul(t, b);
      } else if (c.op === 'fused') {
        const b = constant(d.B, [c.K, c.N]), bias = constant(d.bias, [c.N]);
        const activation = c.act === 'bias+relu' ? 'relu' : 'linear';
        xShape = [c.M, c.K]; op = (t) => tf.fused.matMul({ a: t, b, bias, activation });
      } else if (c.op === 'softmax') {
        xShape = [c.R, c.C]; op = (t) => tf.softmax(t);
      } else if (c.op === 'layernorm') { // no LayerNorm kernel in tfjs: moments, sub, rsqrt, mul, add
        const gamma = constant(d.gamma, [c.C]), beta = constant(d.beta, [c.C]);
        xShape = [c.R, c.C];
        op = (t) => {
          const { mean, variance } = tf.moments(t, -1, true);
          return tf.add(tf.mul(tf.mul(tf.sub(t, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
        };
      } else if (c.op === 'conv') {
        const { C, H, W, O, s, p, g, Ho, Wo } = c;
        x = relayout(d.X, C, H * W, true); xShape = [1, H, W, C];
        const f = filterOf(c, d.Wt);
        const filter = constant(f.data, f.shape), bias = constant(d.bias, [O]);
        const args = { filter, bias, strides: [s, s], pad: [[0, 0], [p, p], [p, p], [0, 0]] };
        op = g > 1 ? (t) => tf.fused.depthwiseConv2d({ x: t, ...args }) : (t) => tf.fused.conv2d({ x: t, ...args });
        fix = (y) => relayout(y, O, Ho * Wo, false);
      } else {
        throw new Error(`no tfjs mapping for op ${c.op}`);
      }
      return {
        info: {},
        fix,
        run: () => {
          const y = tf.tidy(() => op(tf.tensor(x, xShape)));
          const out = y.dataSync();
          y.dispose();
          return out;
        },
        dispose: () => weights.forEach((t) => t.dispose()),
      };
    },
  };
}
