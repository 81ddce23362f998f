// Just enough of the Web Worker API over node:worker_threads for wasm-bindgen-rayon's no-bundler
// helper to start its pool in Node 20 (toolchain doc 6.5). The helper fetches its own source
// (`fetch(import.meta.url)`, a file: URL here), starts it as `new Worker(blobURL, {type:'module'})`,
// talks with postMessage / addEventListener('message'), and calls `self.addEventListener` when
// imported, on the main thread too. Install before importing a threads package.
import { resolveObjectURL } from 'node:buffer';
import fs from 'node:fs/promises';
import { Worker as NodeWorker } from 'node:worker_threads';

// Runs first in each worker: `self`, its message events and postMessage over parentPort.
const BOOTSTRAP = `import { parentPort } from 'node:worker_threads';
const wrapped = new Map();
globalThis.self = globalThis;
globalThis.postMessage = (data) => parentPort.postMessage(data);
globalThis.addEventListener = (type, fn) => {
  if (type !== 'message') return;
  const w = (data) => fn({ data });
  wrapped.set(fn, w);
  parentPort.on('message', w);
};
globalThis.removeEventListener = (type, fn) => { parentPort.off('message', wrapped.get(fn)); wrapped.delete(fn); };
`;

const dataUrl = (source) => `data:text/javascript,${encodeURIComponent(source)}`;

/** A Web Worker running a module given by a blob: or file: URL, on a worker_threads thread. */
class Worker {
  #wrapped = new Map();
  #thread;

  constructor(url) {
    const blob = resolveObjectURL(String(url));
    const source = blob ? blob.text() : fs.readFile(new URL(url), 'utf8');
    // The script arrives asynchronously: messages and listeners wait for the thread, in order.
    this.#thread = source.then((text) => {
      const thread = new NodeWorker(new URL(dataUrl(`${BOOTSTRAP}\nawait import(${JSON.stringify(dataUrl(text))});`)));
      thread.unref(); // rayon's workers block forever: they must not keep Node alive
      thread.on('error', (e) => process.stderr.write(`[node-threads] worker error: ${e?.stack ?? e}\n`));
      return thread;
    });
  }

  postMessage(data) { this.#thread.then((t) => t.postMessage(data)); }

  addEventListener(type, fn) {
    const w = (data) => fn({ data });
    this.#wrapped.set(fn, w);
    this.#thread.then((t) => t.on(type, w));
  }

  removeEventListener(type, fn) {
    const w = this.#wrapped.get(fn);
    this.#wrapped.delete(fn);
    this.#thread.then((t) => t.off(type, w));
  }

  terminate() { this.#thread.then((t) => t.terminate()); }
}

/** Installs `Worker`, a `self` whose events never fire, and `fetch` for file: URLs (idempotent). */
export function installWorkerShim() {
  if (globalThis.Worker) return;
  const netFetch = globalThis.fetch;
  globalThis.fetch = async (url, init) => {
    const u = new URL(String(url?.url ?? url));
    if (u.protocol !== 'file:') return netFetch(url, init);
    return new Response(await fs.readFile(u), { headers: { 'Content-Type': 'text/javascript' } });
  };
  globalThis.self ??= globalThis;
  globalThis.addEventListener ??= () => {};
  globalThis.removeEventListener ??= () => {};
  globalThis.Worker = Worker;
}
