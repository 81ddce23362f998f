#!/usr/bin/env node
// Interleaved side-by-side of wasmnn and the peers on one case, in one Node process or on one
// headless Chromium page:
//
//   node bench/side.mjs --op conv --shape "64x56x56->64 k3s1p1" [--env node|chromium]
//       [--pkg bench/pkg-relaxed/wasmnn.js] [--samples 60] [--peer ort-web,tfjs-wasm] [--chromium PATH]
//
// run.mjs times every runtime in a process or page of its own, one after the other, so on a
// shared host each ratio also measures how busy the neighbours were while each ran (medians of
// one case moved 5-40% between runs here). This runs wasmnn, ORT-web and tfjs-wasm on the same
// inputs in the same thread, alternating sample by sample (a sample is as many calls as last
// >= 2 ms), so all of them see the same moments. Same calls as run.mjs (its adapters: copy in,
// run, copy out; the peers' `prepare`), outputs checked against the reference first; each sample
// follows a full garbage collection and an untimed call (the other runtimes' garbage and data
// are not its own). Prints min, 10th percentile and median per runtime and the ratio faster
// peer / wasmnn for each statistic. The loop itself is src/side.mjs.
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { launchChromium, pageRoots, pkgUrls } from './src/chromium.mjs';
import { ensureRelaxedSimd, loadPkgNode, optionReader, wasmPathOf } from './src/node.mjs';
import { serve } from './src/serve.mjs';
import { SIDE_OPS, SIDE_PEERS, sideBySide, sideReport } from './src/side.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const USAGE = 'usage: node bench/side.mjs --op OP --shape SHAPE [--env node|chromium] [--pkg PKG_JS] [--samples N]'
  + ` [--peer ${SIDE_PEERS.join(',')}] [--chromium PATH]\n  ops: ${SIDE_OPS.join(', ')}`;
const opt = optionReader(process.argv.slice(2), USAGE);
const [op, shape] = ['--op', '--shape'].map((name) => opt(name));
const env = opt('--env', 'node');
const usageError = (msg) => {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
};
if (!op || !shape) usageError('--op and --shape are required');
if (!['node', 'chromium'].includes(env)) usageError(`unknown env ${env}`);
const pkg = path.resolve(opt('--pkg', path.join(HERE, 'pkg-relaxed', 'wasmnn.js')));
const samples = Number(opt('--samples', '60'));
const peers = opt('--peer', SIDE_PEERS.join(',')).split(',').filter(Boolean);
if (!(samples >= 5)) usageError('--samples takes a count >= 5');
if (!SIDE_OPS.includes(op)) usageError(`op ${op}: not one of ${SIDE_OPS.join(', ')}`);
const unknown = peers.filter((p) => !SIDE_PEERS.includes(p));
if (unknown.length) usageError(`unknown peer ${unknown.join(',')}`);
const label = path.basename(path.dirname(pkg));
const opts = { op, shape, samples, peers, label };

const result = env === 'node' ? await inNode() : await inChromium();
for (const line of sideReport(result)) console.log(line);
process.exit(0); // ORT's worker threads would keep the process alive

async function inNode() {
  await ensureRelaxedSimd(fileURLToPath(import.meta.url), wasmPathOf(pkg));
  // ORT writes its session log to fd 2 with fs.writeSync: keep it off the terminal.
  const { writeSync } = fs;
  fs.writeSync = function quiet(fd, str, ...rest) {
    if (typeof str === 'string' && /\[[VIWE]:onnxruntime/.test(str)) return Buffer.byteLength(str);
    return writeSync.call(this, fd, str, ...rest);
  };
  const { wasm } = await loadPkgNode(pkg, 'side');
  const libs = {
    ...(peers.includes('ort-web') ? { ort: await import('onnxruntime-web') } : {}),
    ...(peers.includes('tfjs-wasm')
      ? { tf: await import('@tensorflow/tfjs-core'), tfWasm: await import('@tensorflow/tfjs-backend-wasm') } : {}),
  };
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  return sideBySide({ ...opts, wasm, libs, gc, log: (s) => console.error(s) });
}

async function inChromium() {
  const server = await serve(pageRoots(HERE, [pkg]));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await launchChromium(opt('--chromium', process.env.CHROMIUM_PATH || '/usr/bin/chromium'),
    ['--js-flags=--expose-gc']);
  try {
    const page = await browser.newPage();
    page.on('console', (m) => ['error', 'warning'].includes(m.type()) && console.error(`[page] ${m.text()}`));
    page.on('pageerror', (e) => console.error(`[page] ${e}`));
    await page.goto(`${origin}/browser/side.html`);
    const { pkgUrl, wasmUrl } = pkgUrls(pkg, wasmPathOf(pkg));
    const result = await page.evaluate((o) => window.startSide(o), { ...opts, pkgUrl, wasmUrl });
    result.title += ` (${browser.version()})`;
    return result;
  } finally {
    await browser.close();
    server.close();
  }
}
