// Interleaved side-by-side of wasmnn and the peers on one case, environment-neutral: run by
// ../side.mjs in Node and on browser/side.html in Chromium. Every runtime runs on the same
// inputs in the same thread, alternating sample by sample, so that all of them see the same
// moments of a noisy host (separately timed processes or pages measure the host's drift too).
import { check, makeInputs, parseCase, reference, VERIFY_MAX_FLOPS } from './cases.mjs';
import { createOrtPeer } from './peers/ort.mjs';
import { createTfjsPeer } from './peers/tfjs.mjs';
import { ADAPTERS, batchFor, spread } from './runner.mjs';

export const SIDE_PEERS = ['ort-web', 'tfjs-wasm'];

/** The ops side-by-side takes: every adapter but the whole-model one (its inputs are files). */
export const SIDE_OPS = Object.keys(ADAPTERS).filter((op) => op !== 'model');

/**
 * Runs one case interleaved and returns `{ title, rows: [{ name, min, p10, median }] }`, ours
 * first; throws when an output fails the reference check.
 *
 * opts: { op, shape, samples, wasm (an initialised wasmnn package), label, peers (names),
 *         libs: { ort?, tf?, tfWasm? }, ortLog (array for ORT's session log), wasmDir? (tfjs),
 *         gc (a full garbage collection), log (line => void) }
 */
export async function sideBySide(opts) {
  const { op, shape, samples, wasm, label, peers, libs, gc, log } = opts;
  if (!SIDE_OPS.includes(op)) throw new Error(`op ${op}: not one of ${SIDE_OPS.join(', ')}`);
  const c = parseCase(op, shape);
  const d = makeInputs(c);
  const ref = (c.flops ?? 0) <= VERIFY_MAX_FLOPS ? reference(c, d) : null;

  // Every runtime as { name, run: async () => output, fix?, dispose }.
  const ours = ADAPTERS[op].call(wasm, c, d);
  const runtimes = [{ name: `wasmnn ${label}`, run: async () => ours.run(), fix: ours.fix, dispose: () => ours.free() }];
  for (const peer of peers) {
    const impl = peer === 'ort-web'
      ? await createOrtPeer(libs.ort, 1, opts.ortLog ?? [])
      : peer === 'tfjs-wasm'
        ? await createTfjsPeer({ tf: libs.tf, wasm: libs.tfWasm }, 1, opts.wasmDir)
        : null;
    if (!impl) throw new Error(`unknown peer ${peer} (${SIDE_PEERS.join(', ')})`);
    const skip = impl.skipReason(c);
    if (skip) { log(`${peer}: ${skip}`); continue; }
    const p = await impl.prepare(c, d);
    runtimes.push({ name: peer, run: p.run, fix: p.fix, dispose: p.dispose });
  }

  // Check, warm up, and size each runtime's batch.
  for (const r of runtimes) {
    if (ref) {
      const v = check(c, (r.fix ?? ((y) => y))(await r.run()), ref);
      if (v.check !== 'ok') throw new Error(`${r.name}: output check ${v.check} (max_err ${v.max_err})`);
    }
    const t0 = performance.now();
    let calls = 0;
    while (calls < 3 || (performance.now() - t0 < 100 && calls < 1000)) { await r.run(); calls++; }
    r.batch = batchFor((performance.now() - t0) / calls);
    r.times = [];
  }
  // A full garbage collection before every sample, untimed: the peers allocate their outputs
  // (megabytes per call), and a collection they caused would otherwise land in whichever
  // runtime's sample is running. Then an untimed call: the other runtimes' data went through
  // the caches since.
  for (let s = 0; s < samples; s++) {
    for (const r of runtimes) {
      gc();
      await r.run();
      const t = performance.now();
      for (let i = 0; i < r.batch; i++) await r.run();
      r.times.push((performance.now() - t) / r.batch);
    }
  }
  const rows = [];
  for (const r of runtimes) {
    rows.push({ name: r.name, ...spread(r.times) });
    await r.dispose();
  }
  return { title: `${op} ${shape}: ${samples} interleaved samples`, rows };
}

/** The report of `sideBySide`'s result: one line per runtime, then faster peer / wasmnn per statistic. */
export function sideReport({ title, rows }) {
  const ms = (x) => `${x.toPrecision(4)} ms`;
  const lines = [title, ...rows.map((r) => `  ${r.name.padEnd(24)} min ${ms(r.min)}  p10 ${ms(r.p10)}  median ${ms(r.median)}`)];
  const [ours, ...theirs] = rows;
  if (theirs.length) {
    const ratio = (k) => {
      const best = theirs.reduce((a, b) => (a[k] < b[k] ? a : b));
      return `${(best[k] / ours[k]).toFixed(2)}x (${best.name})`;
    };
    lines.push(`  faster peer / wasmnn: min ${ratio('min')}, p10 ${ratio('p10')}, median ${ratio('median')}`);
  }
  return lines;
}
