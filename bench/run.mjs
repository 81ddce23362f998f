#!/usr/bin/env node
// wasmnn benchmark runner: the peer benchmarks' cases, timing loop and record schema
// (../shared/peers), for one wasmnn build, in Node or in headless Chromium.
//
//   node run.mjs --env node|chromium|all --build simd128|relaxed|threads|relaxed-threads
//                --pkg pkg-simd128/wasmnn.js [--op matmul,fused] [--shape "S1;S2"] [--threads 1,2]
//                [--quick] [--chromium PATH]
//
// Threads (> 1) need a threads build (`--build threads`, bench/pkg-threads): its pool is started
// right after init, in the Worker (Chromium) or through a worker_threads shim (Node), once per
// thread count in a fresh page or module instance.
//
// One JSON record per line on stdout, logs and a summary table on stderr.
// Exit status: 0 ok, 1 if a record has check "FAIL" or an error, 2 on a usage error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPS, parseCase } from './src/cases.mjs';
import { ensureRelaxedSimd, loadPkgNode, wasmPathOf } from './src/node.mjs';
import { runBench } from './src/runner.mjs';
import { serve } from './src/serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUILDS = ['simd128', 'relaxed', 'threads', 'relaxed-threads'];
const USAGE = `usage: node run.mjs [--env node|chromium|all] [--build ${BUILDS.join('|')}] [--pkg PATH/wasmnn.js]`
  + ' [--op LIST] [--shape "S1;S2"] [--threads 1[,2]] [--quick] [--chromium PATH]\n'
  + `  ops: ${OPS.join(', ')} (default matmul)\n`
  + '  shapes: matmul/int8_matmul/int8_dyn MxKxN; fused "MxKxN bias|bias+relu|bias+gelu";'
  + ' conv "CxHxW->O kKsSpP" or "dwCxHxW kKsSpP"; softmax/layernorm RxC\n'
  + '  --pkg defaults to pkg-<build>/wasmnn.js next to run.mjs (wasm-bindgen --target web output)';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

function usageError(msg) {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { env: 'node', build: 'simd128', pkg: null, op: 'matmul', shape: null, threads: '1', quick: false,
    chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium', help: false };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    if (key === null || !(key in o)) usageError(`unknown argument ${argv[i]}`);
    if (typeof o[key] === 'boolean') o[key] = true;
    else if (i + 1 >= argv.length) usageError(`--${key} needs a value`);
    else o[key] = argv[++i];
  }
  if (o.help) { process.stdout.write(`${USAGE}\n`); process.exit(0); }
  const envs = o.env === 'all' ? ['node', 'chromium'] : o.env.split(',');
  if (!envs.length || envs.some((e) => !['node', 'chromium'].includes(e))) usageError(`unknown env ${o.env}`);
  if (!BUILDS.includes(o.build)) usageError(`unknown build ${o.build}`);
  const ops = o.op.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = ops.filter((op) => !OPS.includes(op));
  if (!ops.length || unknown.length) usageError(`unknown op ${unknown.join(',') || '(none)'}`);
  const shapes = o.shape ? o.shape.split(';').map((s) => s.trim()).filter(Boolean) : null;
  if (shapes) {
    if (!shapes.length) usageError('--shape lists no shape');
    for (const op of ops) for (const s of shapes) { try { parseCase(op, s); } catch (e) { usageError(e.message); } }
  }
  const threadList = o.threads.split(',').map(Number);
  if (threadList.some((t) => !Number.isInteger(t) || t < 1)) usageError(`bad --threads ${o.threads}`);
  const pkg = path.resolve(o.pkg ?? path.join(HERE, `pkg-${o.build}`, 'wasmnn.js'));
  for (const f of [pkg, wasmPathOf(pkg)]) {
    if (!fs.existsSync(f)) usageError(`missing ${f}: build the package first (see the usage line of --pkg)`);
  }
  return { ...o, envs, ops, shapes, threadList, pkg };
}

// ---- Chromium: pages from a static server with COOP/COEP (src/serve.mjs).
// Serves browser/ and src/ of this folder, and the package directory under /pkg/<dirname>/.
function servePages(pkgDir) {
  return serve({ browser: path.join(HERE, 'browser'), src: path.join(HERE, 'src'), [`pkg/${path.basename(pkgDir)}`]: pkgDir });
}

async function runChromium(args, onRecord) {
  const { chromium } = await import('playwright-core');
  const pkgDir = path.dirname(args.pkg);
  const server = await servePages(pkgDir);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const pkgBase = `${origin}/pkg/${encodeURIComponent(path.basename(pkgDir))}`;
  const browser = await chromium.launch({ executablePath: args.chromium, headless: true, args: CHROMIUM_ARGS });
  const engine = `chromium-${browser.version()}`; // the user agent hides the minor version
  try {
    for (const threads of args.threadList) {
      const page = await browser.newPage();
      const tag = `[page t${threads}]`;
      page.on('console', (m) => ['error', 'warning'].includes(m.type()) && process.stderr.write(`${tag} ${m.text()}\n`));
      page.on('pageerror', (e) => process.stderr.write(`${tag} ${e}\n`));
      await page.exposeFunction('emitRecord', (r) => onRecord({ ...r, engine }));
      await page.goto(`${origin}/browser/index.html`);
      try {
        await page.evaluate((o) => window.startBench(o), {
          build: args.build, threads, ops: args.ops, shapes: args.shapes, quick: args.quick, engine,
          pkgUrl: `${pkgBase}/${path.basename(args.pkg)}`, wasmUrl: `${pkgBase}/${path.basename(wasmPathOf(args.pkg))}`,
        });
      } catch (e) {
        onRecord({ peer: 'wasmnn', env: 'chromium', threads, engine, build: args.build, op: 'page', shape: '-',
          error: String(e.message).slice(0, 300) });
      }
      await page.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
}

async function runNode(args, onRecord) {
  const threaded = args.build.endsWith('threads');
  // The threads package starts rayon's pool with Web Workers: a worker_threads shim provides them.
  if (threaded) (await import('./src/node-threads.mjs')).installWorkerShim();
  let loaded = null; // one instance for every thread count, except for threads builds: the pool
  // is fixed per instance, so each thread count gets a fresh one
  for (const threads of args.threadList) {
    const load = threaded ? () => loadPkgNode(args.pkg, `threads=${threads}`)
      : async () => (loaded ??= await loadPkgNode(args.pkg));
    await runBench({ env: 'node', build: args.build, threads, ops: args.ops, shapes: args.shapes, quick: args.quick,
      load, emit: onRecord });
  }
}

// ---- Summary table (stderr): one row per case.
function table(env, records) {
  const fmt = (x, unit) => (x == null ? '' : `${x.toPrecision(3)}${unit}`);
  const line = (cells) => cells.map((c, i) => String(c).padEnd([11, 30, 12, 12, 14, 12, 6][i] ?? 0)).join(' ');
  const lines = [`== wasmnn ${env}: median ms per call (copy in, run, copy out) and GFLOP/s; kernel = GEMM only on resident buffers`,
    line(['op', 'shape', 'median', 'min', 'rate', 'kernel', 'check'])];
  for (const r of records) {
    const tag = `${r.op}${r.threads === 1 ? '' : ` t${r.threads}`}`;
    if (r.skipped || r.error) { lines.push(line([tag, r.shape, r.error ? `ERROR: ${r.error}` : `n/a: ${r.skipped}`])); continue; }
    const rate = r.gflops != null ? `${r.gflops.toFixed(1)} GF/s` : r.gbps != null ? `${r.gbps.toFixed(2)} GB/s` : '';
    const kernelRate = r.gflops != null && r.kernel_ms ? ` (${(r.gflops * r.median_ms / r.kernel_ms).toFixed(1)})` : '';
    lines.push(line([tag, r.shape, fmt(r.median_ms, ' ms'), fmt(r.min_ms, ' ms'), rate, fmt(r.kernel_ms, ' ms') + kernelRate,
      r.check ?? 'n/v']));
  }
  const first = records.find((r) => r.binary);
  if (first) lines.push(`binary=${first.binary}, build=${first.build}, version=${first.version}, engine=${first.engine}`
    + (first.cross_origin_isolated === undefined ? '' : `, crossOriginIsolated=${first.cross_origin_isolated}`));
  return lines.join('\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.build === 'relaxed' && args.envs.includes('node')) await ensureRelaxedSimd(fileURLToPath(import.meta.url));
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
    process.stderr.write(`[wasmnn] ${env}: build ${args.build}, package ${args.pkg}\n`);
    if (env === 'node') await runNode(args, onRecord);
    else await runChromium(args, onRecord);
    tables.push(table(env, records));
  }
  process.stderr.write(`\n${tables.join('\n\n')}\n`);
  process.exitCode = failed ? 1 : 0;
}

await main();
