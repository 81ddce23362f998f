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

// ---- The classifier's input: input.npy when the models directory has it (the text line
// preprocessed in Python, and its rotated copy), else the same preprocessing done here.

/**
 * PaddleOCR's classifier preprocessing of a text-line image: scaled to 48 px high (at most 192
 * wide), each channel to [-1, 1], zero padding to 192 wide; batched with the image rotated 180°.
 * Returns `{ data, shape: [2, 3, 48, 192] }`. (Canvas scaling is not OpenCV's, so the
 * probabilities differ a little from those of input.npy.)
 */
function textLineTensor(source, width, height) {
  const [H, W] = [48, 192];
  const w = Math.min(W, Math.ceil((H * width) / height));
  const canvas = Object.assign(document.createElement('canvas'), { width: w, height: H });
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const data = new Float32Array(2 * 3 * H * W);
  [false, true].forEach((rotated, b) => {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    if (rotated) ctx.setTransform(-1, 0, 0, -1, w, H); // 180° about the centre
    ctx.drawImage(source, 0, 0, w, H);
    const px = ctx.getImageData(0, 0, w, H).data;
    for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < w; x++) {
      data[((b * 3 + c) * H + y) * W + x] = px[(y * w + x) * 4 + c] / 127.5 - 1;
    }
  });
  return { data, shape: [2, 3, H, W] };
}

/** A line of text drawn black on white, as a canvas. */
function renderLine(text) {
  const font = '40px sans-serif';
  const measure = document.createElement('canvas').getContext('2d');
  measure.font = font;
  const canvas = Object.assign(document.createElement('canvas'),
    { width: Math.ceil(measure.measureText(text).width) + 16, height: 64 });
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#000';
  ctx.font = font;
  ctx.textBaseline = 'middle';
  ctx.fillText(text, 8, 32);
  return canvas;
}

let classified = null;
/** Classifies `input` (default input.npy) and shows `src` (an image URL) and its rotated copy. */
async function classify(input, src, what) {
  classified = { ...(await serial(() => call('classify', input))), source: what };
  $('img-upright').src = $('img-rotated').src = src;
  drawProbs(classified.probs);
  $('classify-timing').textContent = `${what} [${classified.shape}]: ${classified.ms.toFixed(2)} ms per batch, `
    + `arena ${(classified.peak / 1024).toFixed(0)} KiB`;
  return classified;
}

/** The text-line image of the models directory, else a rendered line (no input.npy). */
async function classifyImageFile() {
  const img = new Image();
  img.src = imageUrl;
  try {
    await img.decode();
    return classify(textLineTensor(img, img.naturalWidth, img.naturalHeight), imageUrl, 'text_line.png, preprocessed in the page');
  } catch {
    return classifyTyped('Hello WASM SIMD');
  }
}

function classifyTyped(text) {
  const canvas = renderLine(text);
  return classify(textLineTensor(canvas, canvas.width, canvas.height), canvas.toDataURL(), `"${text}" rendered in the page`);
}

// ---- Startup: load the artefact and the models, classify the image once.
const imageUrl = new URL('mobilenetv3-textdir/text_line.png', new URL(options.models, location.href)).href;
$('sentences').value = DEFAULT_SENTENCES.join('\n');

const ready = serial(() => call('init', options)).then(async (info) => {
  showStatus(`Loaded pkg-${info.build} (${info.isa}, wasmnn ${info.version}) with ${info.threads} thread(s); `
    + `crossOriginIsolated=${info.crossOriginIsolated}; engine supports relaxed SIMD: ${info.features.relaxedSimd}, `
    + `shared memory: ${info.features.sharedMemory}. Models imported in ${info.minilmImportMs.toFixed(0)} ms (MiniLM) `
    + `and ${info.cnnImportMs.toFixed(0)} ms (MobileNetV3), downloads included.`);
  if (info.hasInputNpy) await classify(undefined, imageUrl, 'input.npy (the text line preprocessed, and its rotated copy)');
  else await classifyImageFile();
  $('compare').disabled = $('classify').disabled = false;
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
    classifyPeak: classified.peak, cnnImportMs: info.cnnImportMs, imageSource: classified.source };
  $('report').textContent = reportLines(result).join('\n');
  return result;
}

$('compare').onclick = () => {
  const sentences = $('sentences').value.split('\n').map((s) => s.trim()).filter(Boolean);
  if (!sentences.length) return;
  $('compare').disabled = true;
  run(sentences).catch((e) => showStatus(String(e.message), true)).finally(() => { $('compare').disabled = false; });
};

$('classify').onclick = () => {
  const text = $('line').value.trim();
  if (!text) return;
  $('classify').disabled = true;
  classifyTyped(text).catch((e) => showStatus(String(e.message), true)).finally(() => { $('classify').disabled = false; });
};

ready.then(() => options.auto && run()).catch((e) => showStatus(`error: ${e.message}`, true));
window.wasmnnDemo = { ready, run };
