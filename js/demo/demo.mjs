// The demo page's main thread: the user interface. Models run in worker.mjs; this file sends it
// requests and draws the answers. `window.wasmnnDemo` is the page's programmatic interface, used
// by the headless driver (bench/pipeline-browser.mjs, `cargo xtask demo --browser`):
//   await wasmnnDemo.ready               -> info (artefact, ISA, threads, ...) or a rejection
//   await wasmnnDemo.run(sentences)      -> everything the report shows (see report.mjs)
import { cosineMatrix, DEFAULT_SENTENCES, IMAGE_NAMES, reportLines } from './report.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const options = {
  base: params.get('base') ?? '/pkg/',
  models: params.get('models') ?? '/models/',
  threads: Number(params.get('threads') ?? 1),
  build: params.get('build') ?? undefined,
  auto: params.get('auto') !== '0', // run the default sentences once loaded (the driver says 0)
};

// ---- The worker, behind promise-returning calls (one answer per request id).
const worker = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
const pending = new Map();
let nextId = 0;
worker.onmessage = ({ data: { id, result, error } }) => {
  const { resolve, reject } = pending.get(id);
  pending.delete(id);
  if (error === undefined) resolve(result); else reject(new Error(error));
};
worker.onerror = (e) => {
  e.preventDefault?.();
  for (const { reject } of pending.values()) reject(new Error(`worker failed: ${e.message ?? 'module could not be loaded'}`));
  pending.clear();
};
const call = (method, args) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject });
  worker.postMessage({ id, method, args });
});
// One request at a time: a click while the previous run is busy waits for it.
let queue = Promise.resolve();
const serial = (f) => { const p = queue.then(f); queue = p.catch(() => {}); return p; };

// ---- Drawing.
function showStatus(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

function drawCosine(sentences, cosine) {
  const table = document.createElement('table');
  table.className = 'cos';
  sentences.forEach((s, i) => {
    const row = table.insertRow();
    cosine[i].forEach((c) => {
      const cell = row.insertCell();
      cell.textContent = c.toFixed(3);
      cell.style.background = `hsl(140 45% ${Math.round(97 - 40 * Math.max(c, 0))}%)`;
    });
    const th = document.createElement('th');
    th.textContent = s;
    row.append(th);
  });
  $('cosine').replaceChildren(table);
}

function drawProbs(probs) {
  ['p-upright', 'p-rotated'].forEach((id, i) => {
    const [up, rot] = [probs[2 * i], probs[2 * i + 1]];
    $(id).innerHTML = `${IMAGE_NAMES[i]}: upright <span class="bar" style="width:${(up * 6).toFixed(2)}rem"></span> ${up.toFixed(4)}`
      + `, rotated <span class="bar" style="width:${(rot * 6).toFixed(2)}rem"></span> ${rot.toFixed(4)}`;
  });
}

// ---- Startup: load the artefact and the models, classify the image once.
const imageUrl = new URL('mobilenetv3-textdir/text_line.png', new URL(options.models, location.href)).href;
$('img-upright').src = $('img-rotated').src = imageUrl;
$('sentences').value = DEFAULT_SENTENCES.join('\n');

let classified = null;
const ready = serial(async () => {
  const info = await call('init', options);
  showStatus(`Loaded pkg-${info.build} (${info.isa}, wasmnn ${info.version}) with ${info.threads} thread(s); `
    + `crossOriginIsolated=${info.crossOriginIsolated}; engine supports relaxed SIMD: ${info.features.relaxedSimd}, `
    + `shared memory: ${info.features.sharedMemory}.`);
  classified = await call('classify');
  drawProbs(classified.probs);
  $('classify-timing').textContent = `input.npy [${classified.shape}] (the image above, preprocessed, and its rotated copy): `
    + `${classified.ms.toFixed(2)} ms per batch, arena ${(classified.peak / 1024).toFixed(0)} KiB; model imported in ${info.cnnImportMs.toFixed(0)} ms`;
  $('compare').disabled = false;
  return info;
});

/** Embeds `sentences`, draws the table and returns the whole report's data. */
async function run(sentences = DEFAULT_SENTENCES) {
  const info = await ready;
  $('sentences').value = sentences.join('\n');
  const { emb, dim, ms, peak } = await serial(() => call('embed', sentences));
  const cosine = cosineMatrix(emb, sentences.length, dim);
  drawCosine(sentences, cosine);
  $('embed-timing').textContent = `${sentences.length} sentences -> ${sentences.length} x ${dim} embeddings: `
    + `${ms.toFixed(2)} ms per batch, arena ${(peak / 1024).toFixed(0)} KiB; model imported in ${info.minilmImportMs.toFixed(0)} ms`;
  const result = { info, sentences, dim, cosine, embedMs: ms, embedPeak: peak, minilmImportMs: info.minilmImportMs,
    probs: Array.from(classified.probs), inputShape: classified.shape, classifyMs: classified.ms,
    classifyPeak: classified.peak, cnnImportMs: info.cnnImportMs };
  $('report').textContent = reportLines(result).join('\n');
  return result;
}

$('compare').onclick = () => {
  const sentences = $('sentences').value.split('\n').map((s) => s.trim()).filter(Boolean);
  if (!sentences.length) return;
  $('compare').disabled = true;
  run(sentences).catch((e) => showStatus(String(e.message), true)).finally(() => { $('compare').disabled = false; });
};

ready.then(() => options.auto && run()).catch((e) => showStatus(`error: ${e.message}`, true));
window.wasmnnDemo = { ready, run };
