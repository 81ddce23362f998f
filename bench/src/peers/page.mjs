// The peers' libraries on a Chromium page (browser/peers.html, browser/side.html), from the
// packages run.mjs and side.mjs serve under /npm/.

/**
 * Keeps ORT's verbose session log off the console (it writes it with console.*) and returns the
 * array that collects it: its lines say which graph transformers fired (`ort_graph`).
 */
export function captureOrtLog() {
  const ortLog = [];
  for (const k of ['log', 'error', 'warn']) {
    const original = console[k].bind(console);
    console[k] = (...a) => {
      const s = a.join(' ');
      if (/\[[VIWE]:onnxruntime/.test(s)) { if (ortLog.length < 5000) ortLog.push(s); } else original(...a);
    };
  }
  return ortLog;
}

const addScript = (src) => new Promise((resolve, reject) => {
  document.head.append(Object.assign(document.createElement('script'),
    { src, onload: resolve, onerror: () => reject(new Error(`cannot load ${src}`)) }));
});

/** ORT-web's module, `{ ort }`. */
export async function loadOrt() {
  return { ort: await import('/npm/onnxruntime-web/dist/ort.wasm.min.mjs') };
}

/** tfjs-core with its wasm backend (UMD scripts: they define window.tf), `{ tf, tfWasm }`. */
export async function loadTfjs() {
  await addScript('/npm/@tensorflow/tfjs-core/dist/tf-core.min.js');
  await addScript('/npm/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js');
  return { tf: window.tf, tfWasm: window.tf.wasm };
}

/** Where the page serves tfjs's backend .wasm files. */
export const TFJS_WASM_DIR = '/npm/@tensorflow/tfjs-backend-wasm/dist/';
