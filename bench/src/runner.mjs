// Environment-neutral benchmark loop for wasmnn: runs in Node (in the run.mjs process) and in
// Chromium (in a dedicated module Worker started by browser/index.html). Records follow the peer
// benchmarks' schema (../shared/peers/README.md), with peer "wasmnn" plus `build` and `kernel_ms`.
import { CASES, VERIFY_MAX_FLOPS, check, makeInputs, parseCase, reference } from './cases.mjs';
import { MODEL_ADAPTER, modelInputs } from './models.mjs';

/** The fixed cases of `ops` (default matmul), or `shapes` parsed for each op. */
export function selectCases({ ops, quick, shapes }) {
  const wanted = ops ?? ['matmul'];
  if (shapes) return wanted.flatMap((op) => shapes.map((s) => parseCase(op, s)));
  const seen = new Set();
  return CASES.filter((c) => wanted.includes(c.op) && (!quick || (!seen.has(c.op) && seen.add(c.op))));
}

/**
 * Times `runBatch(n)` (n back-to-back calls) the way the peers time one call: warm-up of >= 3
 * calls and ~10% of the budget, then samples of `batch` calls lasting >= ~2 ms (Chromium's clock
 * is coarsened to 5 us) until the budget is spent, >= 5 samples. Our calls are synchronous, so
 * nothing is awaited between them.
 */
export function measure(runBatch, budgetMs) {
  const now = () => performance.now();
  let calls = 0;
  let t0 = now();
  while (calls < 3 || (now() - t0 < budgetMs / 10 && calls < 1000)) { runBatch(1); calls++; }
  const batch = batchFor((now() - t0) / calls);
  const samples = [];
  t0 = now();
  while (samples.length < 5 || (now() - t0 < budgetMs && samples.length < 5000)) {
    const t = now();
    runBatch(batch);
    samples.push((now() - t) / batch);
  }
  return { ...spread(samples), reps: samples.length * batch, batch };
}

/**
 * Calls per timed sample for a call of `msPerCall`: enough for the sample to last >= ~2 ms
 * (Chromium's clock is coarsened to 5 us).
 */
export function batchFor(msPerCall) {
  return Math.max(1, Math.ceil(2 / Math.max(msPerCall, 1e-4)));
}

/** `{ min, p10, median }` of per-call times (sorts `samples` in place). */
export function spread(samples) {
  samples.sort((a, b) => a - b);
  const at = (f) => samples[Math.min(samples.length - 1, Math.floor(samples.length * f))];
  return { min: samples[0], p10: at(0.1), median: at(0.5) };
}

/**
 * Times `runBatch(n)` under each of `setups` (e.g. a thread cap of 1, then none), alternating
 * sample by sample so every variant sees the same moments of a noisy host; per variant: warm-up,
 * a batch size making a sample last >= ~2 ms, then >= 5 samples each until the budget is spent.
 * Each sample follows one untimed call of its variant, so it times the steady state (workers
 * awake), as consecutive calls of one variant are.
 * Returns per variant { median, p10, min, reps, batch }.
 */
export function measureInterleaved(setups, runBatch, budgetMs) {
  const now = () => performance.now();
  const batches = setups.map((setup) => {
    setup();
    let calls = 0;
    const t0 = now();
    while (calls < 3 || (now() - t0 < budgetMs / 20 && calls < 1000)) { runBatch(1); calls++; }
    return batchFor((now() - t0) / calls);
  });
  const samples = setups.map(() => []);
  const t0 = now();
  while (samples[0].length < 5 || (now() - t0 < budgetMs && samples[0].length < 5000)) {
    setups.forEach((setup, v) => {
      setup();
      runBatch(1); // untimed: a thread pool idle since the last switch wakes up here
      const t = now();
      runBatch(batches[v]);
      samples[v].push((now() - t) / batches[v]);
    });
  }
  return samples.map((s, v) => ({ ...spread(s), reps: s.length * batches[v], batch: batches[v] }));
}

const round = (x, digits = 4) => Number(x.toPrecision(digits));

// Per-op adapters. `call(c, d)` builds the weights once and returns the timed call (copy the
// activation in, run, copy the result out); `kernel(c, d)` returns a MatmulBench on resident buffers.
const FUSED_ACT = { bias: 'none', 'bias+relu': 'relu', 'bias+gelu': 'gelu' };
/**
 * The conv case's layer and input in the layout it runs (WASMNN_CONV_LAYOUT, default NCHW), and
 * `fix`, which turns an output in that layout back into NCHW for the check.
 */
function convSetup(w, c, d) {
  const layout = globalThis.process?.env?.WASMNN_CONV_LAYOUT ?? 'nchw';
  const conv = new w.Conv2d(d.Wt, d.bias, c.O, c.C, [c.k, c.k], [c.s, c.s], [c.p, c.p, c.p, c.p], [1, 1], c.g, 'none');
  const nhwc = layout === 'nhwc';
  return {
    layout, conv,
    x: nhwc ? transposeCHW(d.X, c.C, c.H * c.W) : d.X,
    fix: nhwc ? (y) => transposeCHW(y, c.Ho * c.Wo, c.O) : (y) => y,
  };
}

export const ADAPTERS = {
  matmul: {
    call(w, c, d) {
      const pm = new w.PackedMatrix(d.B, c.K, c.N);
      return outCall(c.M * c.N, (out) => (out ? pm.matmul_into(d.A, c.M, out) : pm.matmul(d.A, c.M)), () => pm.free());
    },
    kernel: (w, c, d) => new w.MatmulBench(d.A, c.M, d.B, c.K, c.N, undefined, 'none'),
  },
  fused: {
    call(w, c, d) {
      const lin = new w.Linear(d.B, c.K, c.N, d.bias, FUSED_ACT[c.act]);
      return outCall(c.M * c.N, (out) => (out ? lin.forward_into(d.A, c.M, out) : lin.forward(d.A, c.M)), () => lin.free());
    },
    kernel: (w, c, d) => new w.MatmulBench(d.A, c.M, d.B, c.K, c.N, d.bias, FUSED_ACT[c.act]),
  },
  conv: {
    // NCHW in and out, like ORT's Conv (tfjs runs NHWC). WASMNN_CONV_LAYOUT=nhwc measures our
    // NHWC path instead: input transposed once outside the timing, output transposed back only for
    // the check (what the tfjs adapter of the peers does).
    call(w, c, d) {
      const { layout, conv, x, fix } = convSetup(w, c, d);
      const { run, info } = outCall(c.O * c.Ho * c.Wo,
        (out) => (out ? conv.run_into(x, layout, 1, c.H, c.W, out) : conv.run(x, layout, 1, c.H, c.W)));
      return {
        run, free: () => conv.free(), info: { layout, conv_method: conv.method(layout, c.H, c.W), ...info }, fix,
      };
    },
    outLen: (c) => c.O * c.Ho * c.Wo,
    // The convolution alone on resident buffers (Conv2d.bench), in the same layout as the call.
    kernel(w, c, d) {
      const { layout, conv, x, fix } = convSetup(w, c, d);
      let bench;
      try { bench = conv.bench(x, layout, 1, c.H, c.W); } finally { conv.free(); }
      return { run: (n) => bench.run(n), output: () => fix(bench.output()), free: () => bench.free() };
    },
  },
  softmax: {
    call: (w, c, d) => rowsCall(c, (out) => (out ? w.softmax_into(d.X, c.R, c.C, out) : w.softmax(d.X, c.R, c.C))),
    kernel: (w, c, d) => new w.RowsBench('softmax', d.X, c.R, c.C, undefined, undefined, 0),
    outLen: (c) => c.R * c.C,
  },
  layernorm: {
    call: (w, c, d) => rowsCall(c, (out) => (out
      ? w.layernorm_into(d.X, c.R, c.C, d.gamma, d.beta, 1e-5, out)
      : w.layernorm(d.X, c.R, c.C, d.gamma, d.beta, 1e-5))),
    kernel: (w, c, d) => new w.RowsBench('layernorm', d.X, c.R, c.C, d.gamma, d.beta, 1e-5),
    outLen: (c) => c.R * c.C,
  },
  // int8 (quant/): MatMulInteger with uint8 A (zero point 128) and int8 B, exact i32 out; and
  // DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul, f32 in and out. B is packed once.
  // The result goes into one preallocated typed array (as for the rows ops above).
  int8_matmul: {
    call(w, c, d) {
      const q = new w.QuantMatrix(d.Bq, c.K, c.N, new Float32Array([1]), undefined);
      const out = new Int32Array(c.M * c.N);
      return { run: () => (q.matmul_integer_u8_into(d.A, c.M, d.aZero, out), out), free: () => q.free() };
    },
    kernel: (w, c, d) => new w.QGemmBench('int8_matmul', d.A, undefined, d.aZero, c.M, d.Bq, c.K, c.N, 1),
  },
  int8_dyn: {
    call(w, c, d) {
      const q = new w.QuantMatrix(d.Bq, c.K, c.N, new Float32Array([d.bScale]), undefined);
      const out = new Float32Array(c.M * c.N);
      return { run: () => (q.dynamic_quant_matmul_into(d.A, c.M, out), out), free: () => q.free() };
    },
    kernel: (w, c, d) => new w.QGemmBench('int8_dyn', undefined, d.A, 0, c.M, d.Bq, c.K, c.N, d.bScale),
  },
  // Whole ONNX models through the graph runner (models.mjs); checked against ORT-web's output.
  model: MODEL_ADAPTER,
};

/**
 * The timed call of an op with an `_into` form: `run(out)` fills `out`, a result array allocated
 * once (the input is still copied in and the result copied out on every call); a fresh 512 KiB
 * result array per call costs ~0.27 ms of page faults in Chromium. WASMNN_OUT_ALLOC=1 times the
 * allocating form (`run(null)` returns a new array) instead.
 */
function outCall(len, run, free = () => {}) {
  const alloc = globalThis.process?.env?.WASMNN_OUT_ALLOC === '1';
  const out = alloc ? null : new Float32Array(len);
  return { run: () => (out ? (run(out), out) : run(null)), free, info: { out_api: alloc ? 'alloc' : 'into' } };
}

function rowsCall(c, run) {
  return outCall(c.R * c.C, run);
}

/** Transpose a rows x cols row-major Float32Array (NCHW plane stack <-> NHWC). */
function transposeCHW(x, rows, cols) {
  const y = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) y[q * rows + r] = x[r * cols + q];
  return y;
}

function skipReason(c, opts) {
  if (!ADAPTERS[c.op]) return 'not implemented yet in wasmnn';
  if (c.op === 'model' && opts.modelsMissing) return opts.modelsMissing;
  if (c.opt === 'disabled') return 'ORT-only variant (graph optimizations off)';
  return null;
}

function defaultEngine() {
  if (globalThis.process?.versions?.node) return `node-${process.versions.node}`;
  return navigator.userAgent.match(/\S*Chrome\/[\d.]+/)?.[0] ?? navigator.userAgent;
}

const EXPECTED_ISA = { simd128: 'simd128', relaxed: 'relaxed-simd', threads: 'simd128', 'relaxed-threads': 'relaxed-simd' };

/**
 * Starts `threads` workers right after init (before any other call: the first computation fixes
 * the pool) and returns how many run. Throws with the package's own reason when they cannot
 * start: a build without threads, a page that is not cross-origin isolated, no Worker API.
 */
async function startThreads(wasm, threads) {
  if (typeof wasm.startThreads !== 'function') {
    throw new Error(`this package has no startThreads export: it predates thread support; rebuild it`);
  }
  await wasm.startThreads(threads);
  const running = wasm.num_threads();
  if (running !== threads) throw new Error(`asked for ${threads} threads, the pool runs ${running}`);
  return running;
}

/**
 * The case's kernel bench (operands resident in wasm memory), or null where the op has none.
 * Its output is checked against `ref` too, into the case's `verified` fields.
 */
function verifiedKernel(adapter, wasm, c, d, ref, verified) {
  const bench = adapter.kernel ? adapter.kernel(wasm, c, d) : null;
  if (bench && ref) {
    bench.run(1);
    const k = check(c, bench.output(), ref);
    verified.check = verified.check === 'ok' && k.check === 'ok' ? 'ok' : 'FAIL';
    verified.max_err = Math.max(verified.max_err, k.max_err);
  }
  return bench;
}

/**
 * opts: {env, build, threads, ops, shapes, quick, engine?, extra?, interleaveThreads?,
 *        load: async () => ({wasm: initialised pkg namespace, binary: string}), emit(record),
 *        model cases: readModel(relPath, 'bytes'|'text'), modelRefs {shape: ORT output}, modelsMissing?, weights?}
 * interleaveThreads (threads build, threads > 1): each case emits two records, 1 thread and
 * `threads`, timed alternately in the one pool (`p10_ms` too, `interleaved_with`); where the op has a
 * kernel bench, the kernel alone is interleaved too (`kernel_ms`, `kernel_p10_ms`, `kernel_min_ms`).
 */
export async function runBench(opts) {
  const { env, build, threads, emit } = opts;
  const base = { peer: 'wasmnn', env, threads, engine: opts.engine ?? defaultEngine(), build };
  const extra = opts.extra ?? {};
  let wasm, binary, info;
  try {
    ({ wasm, binary } = await opts.load());
    info = JSON.parse(wasm.build_info());
    if (EXPECTED_ISA[build] && info.isa !== EXPECTED_ISA[build]) {
      throw new Error(`package ${binary} was built for isa ${info.isa}, not for --build ${build}`);
    }
  } catch (e) {
    emit({ ...base, op: 'init', shape: '-', error: String(e?.message ?? e).slice(0, 300), ...extra });
    return;
  }
  let threadsEffective = 1;
  try {
    if (build.endsWith('threads') !== (wasm.threads_supported?.() ?? false)) {
      throw new Error(`package ${binary} ${build.endsWith('threads') ? 'has no' : 'has'} thread support, `
        + `unlike --build ${build}`);
    }
    if (threads !== 1) threadsEffective = await startThreads(wasm, threads);
  } catch (e) {
    emit({ ...base, op: 'init', shape: '-', binary, error: String(e?.message ?? e).slice(0, 400), ...extra });
    return;
  }
  const common = { binary, threads_effective: threadsEffective, version: info.version };
  const budget = opts.quick ? 200 : 1000;
  for (const c of selectCases(opts)) {
    const rec = { ...base, op: c.op, shape: c.shape };
    // Which int8 kernel family KernelChoice::Auto ran (build_info: the GEMM's and the GEMV's).
    if (c.op.startsWith('int8')) rec.int8_kernel = c.M === 1 ? info.int8_gemv : info.int8_gemm;
    const skip = skipReason(c, opts);
    if (skip) { emit({ ...rec, skipped: skip, ...extra }); continue; }
    const adapter = ADAPTERS[c.op];
    let call, bench;
    try {
      const model = c.op === 'model'; // model files come through opts.readModel, the reference from ORT-web
      const d = model ? await modelInputs(c, opts.readModel) : makeInputs(c);
      const ref = model ? (opts.modelRefs?.[c.shape] ?? null) : (c.flops ?? 0) <= VERIFY_MAX_FLOPS ? reference(c, d) : null;
      // Public API: one call = copy in, run, copy out; weights packed once, outside the timing.
      call = adapter.call(wasm, c, d, opts);
      const verified = ref ? (adapter.check ?? check)(c, (call.fix ?? ((y) => y))(call.run()), ref, opts) : {};
      let sink = null;
      const runBatch = (n) => { for (let i = 0; i < n; i++) sink = call.run(); };
      if (opts.interleaveThreads && threadsEffective > 1) {
        // 1 thread and all of them in the same pool, alternating (set_thread_limit): the speedup
        // without the drift between two separately timed runs.
        const caps = [() => wasm.set_thread_limit(1), () => wasm.set_thread_limit()];
        const ts = measureInterleaved(caps, runBatch, 3 * budget);
        // The kernel alone on resident operands, interleaved the same way: the speedup without
        // the copies in and out, which JavaScript makes on the calling thread alone.
        bench = verifiedKernel(adapter, wasm, c, d, ref, verified);
        const tk = bench ? measureInterleaved(caps, (n) => bench.run(n), 3 * budget) : null;
        wasm.set_thread_limit();
        ts.forEach((t, v) => {
          const n = v ? threadsEffective : 1;
          const k = tk ? { kernel_ms: round(tk[v].median), kernel_p10_ms: round(tk[v].p10), kernel_min_ms: round(tk[v].min) } : {};
          emit({
            ...rec, threads: n, median_ms: round(t.median), p10_ms: round(t.p10), min_ms: round(t.min), reps: t.reps, ...k,
            batch: t.batch, gflops: c.flops ? round(c.flops / t.median / 1e6) : null,
            gbps: c.bytes ? round(c.bytes / t.median / 1e6) : undefined, ...common, threads_effective: n,
            interleaved_with: v ? 1 : threadsEffective, ...verified, ...(call.info ?? {}), ...extra,
          });
        });
        continue;
      }
      const t = measure(runBatch, budget);
      const outLen = adapter.outLen ? adapter.outLen(c) : c.M * c.N;
      if (sink?.length !== outLen) throw new Error(`output has ${sink?.length} elements, expected ${outLen}`);
      const callInfo = call.info ?? {};
      call.free(); call = null;
      // Kernel only: the GEMM, convolution or row op on operands resident in wasm memory.
      bench = verifiedKernel(adapter, wasm, c, d, ref, verified);
      const tk = bench ? measure((n) => bench.run(n), budget) : null;
      emit({
        ...rec, median_ms: round(t.median), min_ms: round(t.min), reps: t.reps, batch: t.batch,
        gflops: c.flops ? round(c.flops / t.median / 1e6) : null,
        gbps: c.bytes ? round(c.bytes / t.median / 1e6) : undefined,
        kernel_ms: tk ? round(tk.median) : undefined, ...common, ...verified, ...callInfo, ...extra,
      });
    } catch (e) {
      emit({ ...rec, error: String(e?.message ?? e).slice(0, 300), ...extra });
    } finally {
      call?.free();
      bench?.free();
    }
  }
}
