// End-to-end model cases (`--op model`): the real ONNX files of ../shared/models, run whole by
// wasmnn's graph runner (JS classes SentenceEncoder / ImageClassifier) and by ORT-web's
// InferenceSession. Environment-neutral: the files come through `read(relPath, 'bytes'|'text')`,
// which Node implements with fs and the browser Worker / page with fetch.
//
// Shapes: `minilm-seqN` = all-MiniLM-L6-v2 on a batch of one sequence of N tokens
// ([CLS] + N-2 words + [SEP]); `mobilenetv3-textdir` = the text-direction CNN on one
// [1, 3, 48, 192] image. The check compares each runtime's output with ORT-web's (Node, 1 thread),
// computed once per run by the parent process: max abs diff <= 1e-3.

export const MODEL_SHAPES = ['minilm-seq14', 'minilm-seq128', 'mobilenetv3-textdir'];

const MINILM = 'minilm-l6-v2';
const CNN = 'mobilenetv3-textdir';
const IMAGE_SHAPE = [1, 3, 48, 192];
const CLS = 101, SEP = 102;

/** The case of a model shape; throws on an unknown one. */
export function parseModelCase(shape) {
  const m = /^minilm-seq(\d+)$/.exec(shape);
  if (m) {
    const seq = Number(m[1]);
    if (seq < 3 || seq > 512) throw new Error(`model shape '${shape}': sequence length must be 3..512`);
    return { op: 'model', shape, model: MINILM, seq, output: 'sentence_embedding', outLen: 384 };
  }
  if (shape === CNN) return { op: 'model', shape, model: CNN, outLen: 2 };
  throw new Error(`shape '${shape}' does not fit op model (minilm-seqN or ${CNN})`);
}

/**
 * Inputs of a model case. MiniLM: `seq - 2` lowercase whole words of the vocabulary picked by a
 * fixed stride (each is one WordPiece token), their ids with [CLS]/[SEP], a mask of ones and zero
 * token types; `text` is the same words, for SentenceEncoder, which tokenizes itself (a few
 * microseconds, inside wasmnn's timed call only). CNN: the synthetic `sin(0.01 i)` image of the
 * model's reference.json, one image.
 */
export async function modelInputs(c, read) {
  const onnx = await read(`${c.model}/model.onnx`, 'bytes');
  if (c.model === CNN) {
    const image = new Float32Array(IMAGE_SHAPE.reduce((a, b) => a * b));
    for (let i = 0; i < image.length; i++) image[i] = Math.sin(0.01 * i);
    return { onnx, image, imageShape: IMAGE_SHAPE };
  }
  const vocab = await read(`${c.model}/vocab.txt`, 'text');
  const lines = vocab.split('\n').map((l) => l.trim());
  const words = lines.map((w, id) => ({ w, id })).filter(({ w }) => /^[a-z]{3,}$/.test(w));
  const picked = Array.from({ length: c.seq - 2 }, (_, k) => words[(k * 7919 + 17) % words.length]);
  const ids = [CLS, ...picked.map(({ id }) => id), SEP];
  return {
    onnx, vocab, text: picked.map(({ w }) => w).join(' '),
    inputIds: BigInt64Array.from(ids, BigInt),
    attentionMask: new BigInt64Array(c.seq).fill(1n),
    tokenTypeIds: new BigInt64Array(c.seq),
  };
}

/** Cosine of two equally long vectors. */
function cosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
}

/**
 * wasmnn's adapter (an entry of ADAPTERS in runner.mjs). One call = SentenceEncoder.embed([text])
 * (tokenize, copy in, run, copy the embedding out) or ImageClassifier.run(image, shape).
 * `weights`: 'f32' (default) or 'int8' (the graph runner quantizes the weights of the layers
 * that allow it: the classes' optional last constructor argument).
 */
export const MODEL_ADAPTER = {
  call(w, c, d, { weights = 'f32' } = {}) {
    const int8 = weights === 'int8';
    const Class = c.model === CNN ? w.ImageClassifier : w.SentenceEncoder;
    if (int8 && Class.length < (c.model === CNN ? 2 : 4)) { // wasm-bindgen would drop the extra argument
      throw new Error("--weights int8: this package's graph classes have no int8 option: rebuild it");
    }
    if (c.model === CNN) {
      const clf = new w.ImageClassifier(d.onnx, int8);
      return { run: () => clf.run(d.image, d.imageShape), free: () => clf.free(), info: { weights } };
    }
    const enc = new w.SentenceEncoder(d.onnx, d.vocab, c.output, int8);
    const got = Array.from(enc.encode(d.text), Number);
    const want = Array.from(d.inputIds, Number);
    if (got.join() !== want.join()) {
      enc.free();
      throw new Error(`tokenizer gave ${got.length} ids, not the ${want.length} fed to the peers`);
    }
    const texts = [d.text];
    return { run: () => enc.embed(texts), free: () => enc.free(), info: { weights } };
  },
  outLen: (c) => c.outLen,
  /**
   * f32 weights: max |out - ORT-web's out| <= 1e-3. int8 weights approximate the f32 model:
   * `check` is ok when the cosine to ORT-web's f32 output is >= 0.999 (issue 6's bar for the
   * int8 MiniLM embedding); `max_err` is still the max abs diff.
   */
  check(c, out, ref, { weights = 'f32' } = {}) {
    let err = out.length === ref.length ? 0 : Infinity;
    for (let i = 0; i < ref.length; i++) {
      const diff = Math.abs(out[i] - ref[i]);
      err = Number.isNaN(diff) ? Infinity : Math.max(err, diff);
    }
    const max_err = Number(err.toPrecision(3));
    if (weights !== 'int8') return { check: err <= 1e-3 ? 'ok' : 'FAIL', max_err };
    const cos = out.length === ref.length ? cosine(out, ref) : NaN;
    return { check: cos >= 0.999 ? 'ok' : 'FAIL', max_err, cosine: Number(cos.toPrecision(6)) };
  },
};

/** `read` for model cases in a page or Worker: the files under `base` (a URL path such as '/models'). */
export function fetchModelFile(base) {
  return async (rel, kind) => {
    const res = await fetch(`${base}/${rel}`);
    if (!res.ok) throw new Error(`GET ${base}/${rel}: HTTP ${res.status}`);
    return kind === 'text' ? res.text() : new Uint8Array(await res.arrayBuffer());
  };
}
