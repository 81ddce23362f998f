// The demo's compute side, a module Worker: loads the wasmnn artefact through the loader (which
// picks relaxed / simd128 / threads), fetches the two models and runs them on request. It runs
// in a Worker because the threads build needs one (rayon's pool blocks while it waits, which a
// page's main thread may not do), and so the page stays responsive while a model runs.
//
// Requests (postMessage): { id, method, args }; replies: { id, result } or { id, error }.
//   init({ base, models, threads, build }) -> info   loads the package and both models
//   embed(sentences)  -> { emb, dim, ms, peak }      sentence embeddings, time per batch
//   classify()        -> { probs, shape, ms, peak }  input.npy through the classifier
import { load } from '../wasmnn.mjs';
import { parseNpy, timeIt } from './report.mjs';

let wasm = null, encoder = null, classifier = null, image = null;

async function fetchOk(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}${res.status === 404 ? ' (models directory incomplete?)' : ''}`);
  return res;
}
const bytesOf = async (url) => new Uint8Array(await (await fetchOk(url)).arrayBuffer());

const methods = {
  async init({ base, models, threads = 1, build }) {
    const loaded = await load({ base: new URL(base, self.location.href), threads, build });
    wasm = loaded.wasm;
    const info = JSON.parse(wasm.build_info());
    const modelsUrl = new URL(models, self.location.href);
    let t0 = performance.now();
    const [onnx, vocab] = await Promise.all([bytesOf(new URL('minilm-l6-v2/model.onnx', modelsUrl)),
      fetchOk(new URL('minilm-l6-v2/vocab.txt', modelsUrl)).then((r) => r.text())]);
    encoder = new wasm.SentenceEncoder(onnx, vocab, 'sentence_embedding');
    const minilmImportMs = performance.now() - t0; // includes the download, unlike in Node
    t0 = performance.now();
    const [cnn, npy] = await Promise.all([bytesOf(new URL('mobilenetv3-textdir/model.onnx', modelsUrl)),
      bytesOf(new URL('mobilenetv3-textdir/input.npy', modelsUrl))]);
    classifier = new wasm.ImageClassifier(cnn);
    image = parseNpy(npy.buffer);
    const cnnImportMs = performance.now() - t0;
    const engine = navigator.userAgent.match(/(?:Headless)?Chrom(?:e|ium)\/[\d.]+|Firefox\/[\d.]+|Version\/[\d.]+ Safari/)?.[0] ?? 'browser';
    return { version: info.version, isa: info.isa, build: loaded.build, features: loaded.features,
      threads: wasm.num_threads?.() ?? 1, crossOriginIsolated: self.crossOriginIsolated, engine, minilmImportMs, cnnImportMs };
  },
  async embed(sentences) {
    const emb = encoder.embed(sentences);
    const ms = await timeIt(() => encoder.embed(sentences));
    return { emb, dim: encoder.dim, ms, peak: encoder.peak_bytes };
  },
  async classify() {
    const probs = classifier.run(image.data, image.shape);
    const ms = await timeIt(() => classifier.run(image.data, image.shape));
    return { probs, shape: image.shape, ms, peak: classifier.peak_bytes };
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
