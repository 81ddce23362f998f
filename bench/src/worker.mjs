// Dedicated module Worker of browser/index.html: loads the wasmnn package, runs the shared runner
// and posts each record back to the page. A worker keeps the page's main thread free and is where
// the threaded build will have to run (the main thread cannot block).
import { fetchModelFile } from './models.mjs';
import { runBench } from './runner.mjs';

// The .wasm file(s) this worker really fetched, as "<dir>/<file>".
const loadedWasm = () => [...new Set(performance.getEntriesByType('resource')
  .map((e) => new URL(e.name).pathname.split('/').slice(-2).join('/')).filter((n) => n.endsWith('.wasm')))];

self.onmessage = async ({ data: o }) => {
  try {
    await runBench({
      ...o,
      env: 'chromium',
      extra: { cross_origin_isolated: self.crossOriginIsolated },
      readModel: fetchModelFile('/models'),
      load: async () => {
        const wasm = await import(o.pkgUrl);
        await wasm.default({ module_or_path: o.wasmUrl });
        return { wasm, binary: loadedWasm().join(',') || 'unknown' };
      },
      emit: (record) => self.postMessage({ type: 'record', record }),
    });
    self.postMessage({ type: 'done' });
  } catch (e) {
    self.postMessage({ type: 'error', message: String(e?.stack ?? e) });
  }
};
