// Peer "ort-web": onnxruntime-web's wasm execution provider (CPU EP, MLAS kernels in wasm SIMD).
// Micro cases run a one-op ONNX graph written in memory (onnx-writer.mjs): weights are
// initializers, the activation is the graph input. Model cases run the real .onnx file.
// One call = `session.run(feeds)`: copy the input in, run, copy the output out.
import { DT, initializer as init, model, node } from './onnx-writer.mjs';

/** The one-op graph of a micro case, as `{ nodes, inits, inputs, outputs }`. */
export function caseGraph(c, d) {
  const { M, K, N } = c, F = DT.FLOAT;
  const scalar = (name, v) => init(name, F, [], Float32Array.of(v));
  const io = (shapeIn, shapeOut = shapeIn, typeIn = F, typeOut = F) => ({
    inputs: [['X', typeIn, shapeIn]], outputs: [['Y', typeOut, shapeOut]],
  });
  switch (c.op) {
    case 'overhead':
      return { nodes: [node('Relu', ['X'], ['Y'])], ...io([c.R, c.C]) };
    case 'matmul':
      return { nodes: [node('MatMul', ['X', 'B'], ['Y'])], inits: [init('B', F, [K, N], d.B)], ...io([M, K], [M, N]) };
    case 'fused': { // MatMul + Add(bias) [+ Relu | + GELU in its erf form, as exporters write it]
      const last = c.act === 'bias' ? 'Y' : 'Z';
      const nodes = [node('MatMul', ['X', 'B'], ['XB']), node('Add', ['XB', 'bias'], [last])];
      const inits = [init('B', F, [K, N], d.B), init('bias', F, [N], d.bias)];
      if (c.act === 'bias+relu') nodes.push(node('Relu', ['Z'], ['Y']));
      if (c.act === 'bias+gelu') { // 0.5 z (1 + erf(z / sqrt 2))
        nodes.push(node('Div', ['Z', 'sqrt2'], ['G0']), node('Erf', ['G0'], ['G1']), node('Add', ['G1', 'one'], ['G2']),
          node('Mul', ['Z', 'G2'], ['G3']), node('Mul', ['G3', 'half'], ['Y']));
        inits.push(scalar('sqrt2', Math.SQRT2), scalar('one', 1), scalar('half', 0.5));
      }
      return { nodes, inits, ...io([M, K], [M, N]) };
    }
    case 'int8_matmul': // uint8 A with a zero point, int8 B, exact int32 out
      return {
        nodes: [node('MatMulInteger', ['X', 'B', 'Xzero'], ['Y'])],
        inits: [init('B', DT.INT8, [K, N], d.Bq), init('Xzero', DT.UINT8, [], Uint8Array.of(d.aZero))],
        ...io([M, K], [M, N], DT.UINT8, DT.INT32),
      };
    case 'int8_dyn': // f32 in and out: the subgraph onnxruntime's quantize_dynamic writes
      return {
        nodes: [node('DynamicQuantizeLinear', ['X'], ['Xq', 'Xscale', 'Xzero']),
          node('MatMulInteger', ['Xq', 'B', 'Xzero'], ['Yi']), node('Cast', ['Yi'], ['Yf'], { to: DT.FLOAT }),
          node('Mul', ['Xscale', 'Bscale'], ['S']), node('Mul', ['Yf', 'S'], ['Y'])],
        inits: [init('B', DT.INT8, [K, N], d.Bq), scalar('Bscale', d.bScale)],
        ...io([M, K], [M, N]),
      };
    case 'conv': { // NCHW, OIHW weights, bias
      const { C, H, W, O, k, s, p, g, Ho, Wo } = c;
      return {
        nodes: [node('Conv', ['X', 'Wt', 'b'], ['Y'], { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], group: g })],
        inits: [init('Wt', F, [O, C / g, k, k], d.Wt), init('b', F, [O], d.bias)],
        ...io([1, C, H, W], [1, O, Ho, Wo]),
      };
    }
    case 'softmax':
      return { nodes: [node('Softmax', ['X'], ['Y'], { axis: -1 })], ...io([c.R, c.C]) };
    case 'layernorm':
      return {
        nodes: [node('LayerNormalization', ['X', 'gamma', 'beta'], ['Y'], { axis: -1, epsilon: { f: 1e-5 } })],
        inits: [init('gamma', F, [c.C], d.gamma), init('beta', F, [c.C], d.beta)],
        ...io([c.R, c.C]),
      };
    default:
      throw new Error(`no ONNX graph for op ${c.op}`);
  }
}

/** Feeds and the fetched output name of a model case (inputs from models.mjs). */
function modelFeeds(ort, c, d) {
  if (d.image) return { feeds: { x: new ort.Tensor('float32', d.image, d.imageShape) }, output: null };
  const dims = [1, c.seq];
  return {
    feeds: {
      input_ids: new ort.Tensor('int64', d.inputIds, dims),
      attention_mask: new ort.Tensor('int64', d.attentionMask, dims),
      token_type_ids: new ort.Tensor('int64', d.tokenTypeIds, dims),
    },
    output: c.output,
  };
}

/** A session and its timed call for a model case. */
async function modelCall(ort, c, d) {
  const session = await ort.InferenceSession.create(d.onnx, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const { feeds, output } = modelFeeds(ort, c, d);
  const name = output ?? session.outputNames[0];
  return { session, run: async () => (await session.run(feeds, [name]))[name].data };
}

/** ORT's output of a model case (the reference every runtime's model output is checked against). */
export async function modelReference(ort, c, d) {
  const { session, run } = await modelCall(ort, c, d);
  try { return Array.from(await run()); } finally { await session.release(); }
}

/**
 * The peer, initialised for `threads`. `ortLog` collects ORT's verbose session log lines (the
 * caller captures them from stderr / the console): they say which graph transformers fired.
 */
export async function createOrtPeer(ort, threads, ortLog) {
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  // ORT initialises its wasm module lazily: a first tiny session settles the binary and the pool.
  const warm = await ort.InferenceSession.create(model(caseGraph({ op: 'overhead', R: 1, C: 1 })));
  await warm.release();
  return {
    version: ort.env.versions?.web,
    threadsEffective: () => ort.env.wasm.numThreads, // set back to 1 at init when threads are unavailable
    skipReason: () => null,
    async prepare(c, d) {
      if (c.op === 'model') {
        const { session, run } = await modelCall(ort, c, d);
        return { run, info: {}, dispose: () => session.release() };
      }
      const g = caseGraph(c, d);
      ortLog.length = 0;
      const session = await ort.InferenceSession.create(model(g), {
        executionProviders: ['wasm'], graphOptimizationLevel: c.opt ?? 'all', logSeverityLevel: 0, logVerbosityLevel: 0,
      });
      const log = ortLog.join('\n');
      ortLog.length = 0;
      const changed = [...new Set(log.match(/GraphTransformer \w+ modified: [1-9]/g) ?? [])].map((s) => s.split(' ')[1]);
      const nodes = /Number of nodes: (\d+)/.exec(log)?.[1] ?? '?';
      const [, type, dims] = g.inputs[0];
      const feeds = { X: new ort.Tensor(type === DT.UINT8 ? 'uint8' : 'float32', d.X ?? d.A, dims) };
      return {
        info: { ort_graph: `${nodes} node(s) after optimization; changed by: ${changed.join(',') || 'none'}` },
        run: async () => (await session.run(feeds)).Y.data,
        dispose: () => session.release(),
      };
    },
  };
}
