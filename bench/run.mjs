#!/usr/bin/env node
// wasmnn benchmark runner: the peer benchmarks' cases, timing loop and record schema
// (../shared/peers), for wasmnn builds and for the peers ORT-web and tfjs-wasm (pinned
// devDependencies of this folder), in Node or in headless Chromium.
//
//   node run.mjs --env node|chromium|all --build simd128[,relaxed|threads|relaxed-threads]
//                [--peer wasmnn,ort-web,tfjs-wasm] [--op matmul,fused,model] [--shape "S1;S2"]
//                [--threads 1,2] [--quick] [--pkg PATH/wasmnn.js] [--models DIR] [--chromium PATH]
//                [--interleave-threads]
//
// Every (peer, threads, build) pair runs in a fresh Node child process (this script with
// --child) or in a fresh page of one Chromium launched for the whole run: every runtime fixes its
// thread pool at initialisation. Threads (> 1) of wasmnn need a threads build (`--build
// threads`, bench/pkg-threads): its pool is started right after init, in the Worker (Chromium)
// or through a worker_threads shim (Node). --interleave-threads times 1 thread and N in that one
// pool, alternating sample by sample (a thread cap, set_thread_limit): on a noisy host the
// speedup of two separately timed runs mostly measures the drift between them.
//
// Op `model` (src/models.mjs) needs ../shared/models (or --models DIR / WASMNN_MODELS); its
// reference output is ORT-web's, computed once per run in a Node child with 1 thread.
//
// One JSON record per line on stdout, logs and a summary table on stderr.
// Exit status: 0 ok, 1 if a record has check "FAIL" or an error, 2 on a usage error.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OPS, parseCase } from './src/cases.mjs';
import { RELAXED_FLAG, loadPkgNode, relaxedSimdSupported, wasmPathOf } from './src/node.mjs';
import { runBench, selectCases } from './src/runner.mjs';
import { launchChromium, pageRoots, pkgUrls } from './src/chromium.mjs';
import { serve } from './src/serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILDS = ['simd128', 'relaxed', 'threads', 'relaxed-threads'];
const PEER_IDS = ['wasmnn', 'ort-web', 'tfjs-wasm'];
const USAGE = `usage: node run.mjs [--env node|chromium|all] [--build ${BUILDS.join('|')}[,...]] [--pkg PATH/wasmnn.js]`
  + ' [--peer wasmnn,ort-web,tfjs-wasm] [--op LIST] [--shape "S1;S2"] [--threads 1[,2]] [--quick]'
  + ' [--models DIR] [--weights f32|int8] [--chromium PATH] [--interleave-threads]\n'
  + `  ops: ${OPS.join(', ')} (default matmul)\n`
  + '  shapes: matmul/int8_matmul/int8_dyn MxKxN; fused "MxKxN bias|bias+relu|bias+gelu";'
  + ' conv "CxHxW->O kKsSpP" or "dwCxHxW kKsSpP"; softmax/layernorm RxC;'
  + ' model minilm-seqN | mobilenetv3-textdir\n'
  + '  --pkg (one build only) defaults to pkg-<build>/wasmnn.js next to run.mjs (wasm-bindgen --target web output)';

function usageError(msg) {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

function parseArgs(argv) {
  const o = { env: 'node', build: 'simd128', pkg: null, peer: 'wasmnn', op: 'matmul', shape: null, threads: '1',
    quick: false, models: process.env.WASMNN_MODELS || path.join(HERE, '../../shared/models'), weights: 'f32',
    chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium', 'interleave-threads': false, child: null, help: false };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    if (key === null || !(key in o)) usageError(`unknown argument ${argv[i]}`);
    if (typeof o[key] === 'boolean') o[key] = true;
    else if (i + 1 >= argv.length) usageError(`--${key} needs a value`);
    else o[key] = argv[++i];
  }
  if (o.help) { process.stdout.write(`${USAGE}\n`); process.exit(0); }
  if (o.child) return { child: JSON.parse(o.child) };
  const envs = o.env === 'all' ? ['node', 'chromium'] : list(o.env);
  if (!envs.length || envs.some((e) => !['node', 'chromium'].includes(e))) usageError(`unknown env ${o.env}`);
  const builds = list(o.build);
  if (!builds.length || builds.some((b) => !BUILDS.includes(b))) usageError(`unknown build ${o.build}`);
  if (o.pkg && builds.length > 1) usageError('--pkg goes with a single --build');
  const peers = list(o.peer);
  if (!peers.length || peers.some((p) => !PEER_IDS.includes(p))) usageError(`unknown peer ${o.peer} (${PEER_IDS.join(', ')})`);
  if (!['f32', 'int8'].includes(o.weights)) usageError(`--weights must be f32 or int8, not ${o.weights}`);
  const ops = list(o.op);
  const unknown = ops.filter((op) => !OPS.includes(op));
  if (!ops.length || unknown.length) usageError(`unknown op ${unknown.join(',') || '(none)'}`);
  const shapes = o.shape ? o.shape.split(';').map((s) => s.trim()).filter(Boolean) : null;
  if (shapes) {
    if (!shapes.length) usageError('--shape lists no shape');
    for (const op of ops) for (const s of shapes) { try { parseCase(op, s); } catch (e) { usageError(e.message); } }
  }
  const threadList = o.threads.split(',').map(Number);
  if (threadList.some((t) => !Number.isInteger(t) || t < 1)) usageError(`bad --threads ${o.threads}`);
  const interleaveThreads = o['interleave-threads'];
  if (interleaveThreads && (!builds.every((b) => b.endsWith('threads')) || !threadList.some((t) => t > 1))) {
    usageError('--interleave-threads needs threads builds only and a --threads count above 1');
  }
  const pkgs = {};
  if (peers.includes('wasmnn')) {
    for (const b of builds) {
      pkgs[b] = path.resolve(o.pkg ?? path.join(HERE, `pkg-${b}`, 'wasmnn.js'));
      for (const f of [pkgs[b], wasmPathOf(pkgs[b])]) {
        if (!fs.existsSync(f)) usageError(`missing ${f}: build the package first (see the usage line of --pkg)`);
      }
    }
  }
  if (peers.some((p) => p !== 'wasmnn') && !fs.existsSync(path.join(HERE, 'node_modules/onnxruntime-web'))) {
    usageError(`peers need bench/node_modules: run \`npm ci\` in ${HERE}`);
  }
  return { ...o, envs, builds, peers, ops, shapes, threadList, pkgs, interleaveThreads, models: path.resolve(o.models) };
}

// ---- Model files: the reason they cannot be used (a visible skip), or null.
function modelsMissing(args) {
  const need = ['minilm-l6-v2/model.onnx', 'minilm-l6-v2/vocab.txt', 'mobilenetv3-textdir/model.onnx'];
  const absent = need.filter((f) => !fs.existsSync(path.join(args.models, f)));
  return absent.length ? `models not found (${absent.map((f) => path.join(args.models, f)).join(', ')}):`
    + ' pass --models DIR or set WASMNN_MODELS' : null;
}

const readModelNode = (dir) => async (rel, kind) => fs.promises.readFile(path.join(dir, rel), kind === 'text' ? 'utf8' : null)
  .then((b) => (kind === 'text' ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));

// ---- Node child: one job, records as JSON lines on stdout.
//   { kind: 'wasmnn', build, pkg, threads, ... } | { kind: 'peer', peer, threads, ... } | { kind: 'refs', ... }
async function runChild(job) {
  const emit = (r) => process.stdout.write(`${JSON.stringify(r)}\n`);
  const common = { env: 'node', threads: job.threads, ops: job.ops, shapes: job.shapes, quick: job.quick,
    readModel: readModelNode(job.models), modelRefs: job.modelRefs, modelsMissing: job.modelsMissing, weights: job.weights,
    interleaveThreads: job.interleaveThreads };
  if (job.kind === 'wasmnn') {
    const threaded = job.build.endsWith('threads');
    // The threads package starts rayon's pool with Web Workers: a worker_threads shim provides them.
    if (threaded) (await import('./src/node-threads.mjs')).installWorkerShim();
    await runBench({ ...common, build: job.build, load: () => loadPkgNode(job.pkg), emit });
    process.exit(0); // rayon's workers are unref'd, but do not wait for them
  }
  // Peers: note which .wasm files are really read, and keep ORT's verbose session log (written
  // to fd 2 with fs.writeSync) for the `ort_graph` field.
  const wasmLoads = [], ortLog = [];
  const { readFileSync, writeSync } = fs;
  fs.readFileSync = function hooked(p, ...rest) {
    if (String(p).endsWith('.wasm')) wasmLoads.push(path.basename(String(p)));
    return readFileSync.call(this, p, ...rest);
  };
  fs.writeSync = function hooked(fd, s, ...rest) {
    if (typeof s === 'string' && /\[[VIWE]:onnxruntime/.test(s)) {
      if (ortLog.length < 5000) ortLog.push(s);
      return Buffer.byteLength(s);
    }
    return writeSync.call(this, fd, s, ...rest);
  };
  const { modelReferences, runPeerBench } = await import('./src/peers/bench.mjs');
  if (job.kind === 'refs') {
    const ort = await import('onnxruntime-web');
    const cases = selectCases(job).filter((c) => c.op === 'model');
    emit({ refs: await modelReferences(ort, cases, common.readModel) });
    process.exit(0);
  }
  const libs = job.peer === 'ort-web' ? { ort: await import('onnxruntime-web') }
    : { tf: await import('@tensorflow/tfjs-core'), wasm: await import('@tensorflow/tfjs-backend-wasm') };
  await runPeerBench({ ...common, peer: job.peer, libs, ortLog, loadedWasm: () => [...new Set(wasmLoads)], emit });
  process.exit(0); // ORT's worker threads would keep the process alive
}

/** Runs one job in a fresh Node process; calls onRecord per JSON line, forwards other output. */
function spawnChild(job, tag, onRecord) {
  const flags = [...process.execArgv];
  if (job.build?.startsWith('relaxed') && !relaxedSimdSupported() && !flags.includes(RELAXED_FLAG)) flags.push(RELAXED_FLAG);
  const child = spawn(process.execPath, [...flags, fileURLToPath(import.meta.url), '--child', JSON.stringify(job)],
    { cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
  const forward = (line) => process.stderr.write(`${tag} ${line}\n`);
  readline.createInterface({ input: child.stdout }).on('line', (l) => (l.startsWith('{') ? onRecord(JSON.parse(l)) : forward(l)));
  readline.createInterface({ input: child.stderr }).on('line', forward);
  return new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ? 1 : code)));
}

/** The jobs of a run: wasmnn per (build, threads), then each peer per threads. */
function jobs(args, shared) {
  const out = [];
  for (const peer of args.peers) {
    for (const build of peer === 'wasmnn' ? args.builds : [null]) {
      for (const threads of args.threadList) {
        out.push(peer === 'wasmnn' ? { ...shared, kind: 'wasmnn', build, pkg: args.pkgs[build], threads }
          : { ...shared, kind: 'peer', peer, threads });
      }
    }
  }
  return out;
}

const jobTag = (j) => `[${j.kind === 'wasmnn' ? `wasmnn ${j.build}` : j.peer} t${j.threads}]`;

async function runNode(args, shared, onRecord) {
  for (const job of jobs(args, shared)) {
    const code = await spawnChild(job, jobTag(job), onRecord);
    if (code) {
      onRecord({ peer: job.peer ?? 'wasmnn', env: 'node', threads: job.threads, build: job.build ?? undefined,
        op: 'process', shape: '-', error: `child exited with ${code}` });
    }
  }
}

// ---- Chromium: one browser for the run, a fresh page per job, pages from a static server with
// COOP/COEP (src/serve.mjs): browser/, src/, each package under /pkg/<dirname>/, the peers'
// packages under /npm/, the models under /models/.
async function runChromium(args, shared, onRecord) {
  const roots = pageRoots(HERE, Object.values(args.pkgs));
  if (!shared.modelsMissing) roots.models = args.models;
  const server = await serve(roots);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launchChromium(args.chromium);
  const engine = `chromium-${browser.version()}`; // the user agent hides the minor version
  try {
    for (const job of jobs(args, shared)) {
      const page = await browser.newPage();
      const tag = `[page ${jobTag(job).slice(1, -1)}]`;
      page.on('console', (m) => ['error', 'warning'].includes(m.type()) && process.stderr.write(`${tag} ${m.text()}\n`));
      page.on('pageerror', (e) => process.stderr.write(`${tag} ${e}\n`));
      await page.exposeFunction('emitRecord', (r) => onRecord({ ...r, engine }));
      const opts = { threads: job.threads, ops: job.ops, shapes: job.shapes, quick: job.quick, engine,
        modelRefs: job.modelRefs, modelsMissing: job.modelsMissing, weights: job.weights, interleaveThreads: job.interleaveThreads };
      try {
        if (job.kind === 'wasmnn') {
          const { pkgUrl, wasmUrl } = pkgUrls(job.pkg, wasmPathOf(job.pkg));
          await page.goto(`${origin}/browser/index.html`);
          await page.evaluate((o) => window.startBench(o), { ...opts, build: job.build,
            pkgUrl: `${origin}${pkgUrl}`, wasmUrl: `${origin}${wasmUrl}` });
        } else {
          await page.goto(`${origin}/browser/peers.html`);
          await page.evaluate((o) => window.startPeerBench(o), { ...opts, peer: job.peer });
        }
      } catch (e) {
        onRecord({ peer: job.peer ?? 'wasmnn', env: 'chromium', threads: job.threads, engine, build: job.build ?? undefined,
          op: 'page', shape: '-', error: String(e.message).slice(0, 300) });
      }
      await page.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
}

// ---- Summary table (stderr): one row per record.
function table(env, records) {
  const fmt = (x, unit) => (x == null ? '' : `${x.toPrecision(3)}${unit}`);
  const line = (cells) => cells.map((c, i) => String(c).padEnd([18, 11, 30, 12, 12, 14, 12, 6][i] ?? 0)).join(' ');
  const lines = [`== ${env}: median ms per call (copy in, run, copy out) and GFLOP/s; kernel = wasmnn's GEMM only on resident buffers`,
    line(['who', 'op', 'shape', 'median', 'min', 'rate', 'kernel', 'check'])];
  for (const r of records) {
    const who = `${r.peer === 'wasmnn' ? `${r.build}${r.weights === 'int8' ? ' int8' : ''}` : r.peer} t${r.threads}`;
    if (r.skipped || r.error) { lines.push(line([who, r.op, r.shape, r.error ? `ERROR: ${r.error}` : `n/a: ${r.skipped}`])); continue; }
    const rate = r.gflops != null ? `${r.gflops.toFixed(1)} GF/s` : r.gbps != null ? `${r.gbps.toFixed(2)} GB/s` : '';
    const kernelRate = r.gflops != null && r.kernel_ms ? ` (${(r.gflops * r.median_ms / r.kernel_ms).toFixed(1)})` : '';
    lines.push(line([who, r.op, r.shape, fmt(r.median_ms, ' ms'), fmt(r.min_ms, ' ms'), rate, fmt(r.kernel_ms, ' ms') + kernelRate,
      r.check ?? 'n/v']));
  }
  for (const r of records.filter((x) => x.interleaved_with === 1)) {
    const one = records.find((x) => x.interleaved_with === r.threads && x.op === r.op && x.shape === r.shape && x.build === r.build);
    if (!one) continue;
    const ratio = (k) => (one[k] / r[k]).toFixed(2);
    lines.push(`${r.build} ${r.op} ${r.shape}: ${r.threads} threads vs 1, interleaved: ${ratio('min_ms')}x (min), `
      + `${ratio('p10_ms')}x (p10), ${ratio('median_ms')}x (median)`
      + (r.kernel_ms ? `; kernel alone ${ratio('kernel_min_ms')}x / ${ratio('kernel_p10_ms')}x / ${ratio('kernel_ms')}x` : ''));
  }
  const seen = new Set();
  for (const r of records.filter((x) => x.binary)) {
    const who = r.peer === 'wasmnn' ? `wasmnn ${r.build}` : r.peer;
    if (seen.has(`${who}|${r.threads}`)) continue;
    seen.add(`${who}|${r.threads}`);
    lines.push(`${who} t${r.threads}: binary=${r.binary}, threads_effective=${r.threads_effective}, version=${r.version}, engine=${r.engine}`
      + (r.cross_origin_isolated === undefined ? '' : `, crossOriginIsolated=${r.cross_origin_isolated}`));
  }
  return lines.join('\n');
}

/** ORT-web's outputs of the selected model cases (a Node child, 1 thread), or null if none. */
async function modelRefs(args, shared) {
  const cases = selectCases(args).filter((c) => c.op === 'model');
  if (!cases.length || shared.modelsMissing) return null;
  let refs = null;
  const code = await spawnChild({ ...shared, kind: 'refs', threads: 1 }, '[reference ort-web t1]', (r) => { refs = r.refs; });
  if (code || !refs) process.stderr.write('[wasmnn] model cases: no ORT-web reference output: records are not checked\n');
  return refs;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) { await runChild(args.child); return; }
  const shared = { ops: args.ops, shapes: args.shapes, quick: args.quick, models: args.models, weights: args.weights,
    interleaveThreads: args.interleaveThreads };
  if (args.ops.includes('model')) {
    shared.modelsMissing = modelsMissing(args) ?? undefined;
    if (shared.modelsMissing) process.stderr.write(`[wasmnn] SKIPPING model cases: ${shared.modelsMissing}\n`);
    else shared.modelRefs = await modelRefs(args, shared) ?? undefined;
  }
  let failed = false;
  const tables = [];
  for (const env of args.envs) {
    const records = [];
    const onRecord = (r) => {
      r.load1 = Number(os.loadavg()[0].toFixed(2));
      if (r.error || r.check === 'FAIL') failed = true;
      records.push(r);
      process.stdout.write(`${JSON.stringify(r)}\n`);
    };
    process.stderr.write(`[wasmnn] ${env}: ${args.peers.join(', ')}; builds ${args.builds.join(', ')}; threads ${args.threadList.join(', ')}\n`);
    if (env === 'node') await runNode(args, shared, onRecord);
    else await runChromium(args, shared, onRecord);
    tables.push(table(env, records));
  }
  process.stderr.write(`\n${tables.join('\n\n')}\n`);
  process.exitCode = failed ? 1 : 0;
}

await main();
