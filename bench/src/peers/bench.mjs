// Benchmark loop of the peers (ort-web, tfjs-wasm), environment-neutral: runs in a Node child
// process and on a Chromium page. Same cases, inputs, verification and timing protocol as
// wasmnn's runner (../runner.mjs), with an awaited call (`session.run` is async); records have
// the schema of ../shared/peers/README.md.
import { VERIFY_MAX_FLOPS, check, makeInputs, reference } from '../cases.mjs';
import { modelInputs } from '../models.mjs';
import { batchFor, selectCases } from '../runner.mjs';
import { createOrtPeer, modelReference } from './ort.mjs';
import { createTfjsPeer } from './tfjs.mjs';

export const PEERS = ['ort-web', 'tfjs-wasm'];

/** The protocol of runner.mjs's `measure`, for an async call. */
export async function measureAsync(run, budgetMs) {
  const now = () => performance.now();
  let calls = 0;
  let t0 = now();
  while (calls < 3 || (now() - t0 < budgetMs / 10 && calls < 1000)) { await run(); calls++; }
  const batch = batchFor((now() - t0) / calls);
  const samples = [];
  t0 = now();
  while (samples.length < 5 || (now() - t0 < budgetMs && samples.length < 5000)) {
    const t = now();
    for (let i = 0; i < batch; i++) await run();
    samples.push((now() - t) / batch);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[samples.length >> 1], min: samples[0], reps: samples.length * batch, batch };
}

const round = (x, digits = 4) => Number(x.toPrecision(digits));

function defaultEngine() {
  if (globalThis.process?.versions?.node) return `node-${process.versions.node}`;
  return navigator.userAgent.match(/\S*Chrome\/[\d.]+/)?.[0] ?? navigator.userAgent;
}

/** Case data: generated inputs, or the model files and inputs (`readModel` absent: models missing). */
async function caseData(c, opts) {
  if (c.op !== 'model') {
    const d = makeInputs(c);
    return { d, ref: (c.flops ?? 0) <= VERIFY_MAX_FLOPS ? reference(c, d) : null };
  }
  return { d: await modelInputs(c, opts.readModel), ref: opts.modelRefs?.[c.shape] ?? null };
}

/**
 * ORT-web's outputs of the selected model cases, `{ shape: number[] }`: the reference of every
 * model record (run in Node with 1 thread by the parent, once per run).
 */
export async function modelReferences(ort, cases, readModel) {
  ort.env.wasm.numThreads = 1;
  const refs = {};
  for (const c of cases) refs[c.shape] = await modelReference(ort, c, await modelInputs(c, readModel));
  return refs;
}

/**
 * opts: { peer, env, threads, ops, shapes, quick, libs ({ort} | {tf, wasm}), ortLog, wasmDir?,
 *         loadedWasm() -> string[], readModel?, modelRefs?, modelsMissing?, engine?, extra?, emit }
 */
export async function runPeerBench(opts) {
  const { peer, env, threads, emit } = opts;
  const extra = opts.extra ?? {};
  const base = { peer, env, threads, engine: opts.engine ?? defaultEngine() };
  let impl;
  try {
    impl = peer === 'ort-web' ? await createOrtPeer(opts.libs.ort, threads, opts.ortLog)
      : await createTfjsPeer(opts.libs, threads, opts.wasmDir);
  } catch (e) {
    emit({ ...base, op: 'init', shape: '-', error: String(e?.message ?? e).slice(0, 300), ...extra });
    return;
  }
  const common = () => ({ binary: opts.loadedWasm().join(',') || 'unknown', threads_effective: impl.threadsEffective(),
    version: impl.version });
  if (impl.threadsEffective() < threads) { // fell back to fewer threads: not a `threads` measurement
    emit({ ...base, op: 'init', shape: '-', ...common(),
      skipped: impl.threadsNote ?? `runtime runs ${impl.threadsEffective()} thread(s) here`, ...extra });
    return;
  }
  const budget = opts.quick ? 200 : 1000;
  for (const c of selectCases(opts)) {
    const rec = { ...base, op: c.op, shape: c.shape };
    const skip = impl.skipReason(c) ?? (c.op === 'model' && opts.modelsMissing) ?? null;
    if (skip) { emit({ ...rec, skipped: skip, ...extra }); continue; }
    let prepared;
    try {
      const { d, ref } = await caseData(c, opts);
      prepared = await impl.prepare(c, d);
      const verified = ref ? check(c, (prepared.fix ?? ((y) => y))(await prepared.run()), ref) : {};
      const t = await measureAsync(prepared.run, budget);
      emit({
        ...rec, median_ms: round(t.median), min_ms: round(t.min), reps: t.reps, batch: t.batch,
        gflops: c.flops ? round(c.flops / t.median / 1e6) : null,
        gbps: c.bytes ? round(c.bytes / t.median / 1e6) : undefined,
        ...common(), ...verified, ...prepared.info, ...extra,
      });
    } catch (e) {
      emit({ ...rec, error: String(e?.message ?? e).slice(0, 300), ...extra });
    } finally {
      await prepared?.dispose();
    }
  }
}
