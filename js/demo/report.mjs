// What the pipeline demo computes from the model outputs and how it prints them, shared by the
// demo page (index.html) and the headless driver (bench/pipeline-browser.mjs), so the terminal
// shows the same table as the Node demo (bench/pipeline.mjs). Plain functions, no I/O.

/** The sentences the demo starts with (those of minilm-l6-v2/reference.json). */
export const DEFAULT_SENTENCES = [
  'Once upon a time',
  'The quick brown fox jumps over the lazy dog.',
  'A tiny graph runner for WebAssembly SIMD.',
];

/** Cosine similarity of every pair of the `n` rows of `emb` (`n x dim`, row-major). */
export function cosineMatrix(emb, n, dim) {
  const dot = (i, j) => { let s = 0; for (let d = 0; d < dim; d++) s += emb[i * dim + d] * emb[j * dim + d]; return s; };
  const norm = Array.from({ length: n }, (_, i) => Math.sqrt(dot(i, i)));
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => dot(i, j) / (norm[i] * norm[j])));
}

/** Largest absolute difference between two equally long flat or nested number arrays. */
export function maxAbsDiff(a, b) {
  const x = [a].flat(Infinity), y = [b].flat(Infinity);
  if (x.length !== y.length) return Infinity;
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
}

/** Median of `repeat` timings, as the Node demo measures: at least 5 runs and `minMs` in all. */
export async function timeIt(f, minMs = 300) {
  const xs = []; const t0 = performance.now();
  while (xs.length < 5 || performance.now() - t0 < minMs) { const t = performance.now(); await f(); xs.push(performance.now() - t); }
  return xs.sort((p, q) => p - q)[xs.length >> 1];
}

/** A little-endian float32 .npy file (NumPy format 1.0) from its bytes: `{ shape, data }`. */
export function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const headerLen = bytes[8] | (bytes[9] << 8);
  const header = String.fromCharCode(...bytes.subarray(10, 10 + headerLen));
  if (!header.includes("'<f4'")) throw new Error('only little-endian float32 .npy arrays are supported');
  const shape = header.match(/\(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { shape, data: new Float32Array(buffer.slice(10 + headerLen)) };
}

const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;

/**
 * The report as text lines, in the Node demo's format. `r` is what the page's `run` returns:
 * `{ info, sentences, dim, cosine, embedMs, embedPeak, minilmImportMs, probs, inputShape, classifyMs,
 * classifyPeak, cnnImportMs, imageSource }`.
 */
export function reportLines(r) {
  const { info } = r;
  const lines = [
    `wasmnn ${info.version} (${info.isa}) in ${info.engine}: artefact pkg-${info.build}, ${info.threads} thread(s)`
      + `, crossOriginIsolated=${info.crossOriginIsolated}`,
    '',
    `MiniLM imported and packed in ${r.minilmImportMs.toFixed(0)} ms`,
    `${r.sentences.length} sentences -> ${r.sentences.length} x ${r.dim} embeddings: ${r.embedMs.toFixed(2)} ms per batch,`
      + ` arena ${kib(r.embedPeak)}`,
    '',
    'cosine similarity',
    ...r.sentences.map((s, i) => `  ${r.cosine[i].map((c) => c.toFixed(3).padStart(6)).join(' ')}  ${s}`),
  ];
  if (r.probs) {
    lines.push('', `MobileNetV3 imported in ${r.cnnImportMs.toFixed(0)} ms`,
      ...(r.imageSource?.startsWith('input.npy') ? [] : [`input: ${r.imageSource}`]),
      `[${r.inputShape}] -> probabilities: ${r.classifyMs.toFixed(2)} ms per batch, arena ${kib(r.classifyPeak)}`,
      ...IMAGE_NAMES.map((name, i) => `  ${name.padEnd(24)} upright ${r.probs[2 * i].toFixed(4)}  rotated ${r.probs[2 * i + 1].toFixed(4)}`));
  }
  return lines;
}

/** The two images of input.npy, in order. */
export const IMAGE_NAMES = ['text line', 'same line rotated 180°'];
