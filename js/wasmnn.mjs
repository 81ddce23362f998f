// Loader for the wasmnn JavaScript package: picks the artefact this engine can run.
//
//   import { load } from './wasmnn.mjs';
//   const { wasm, build } = await load({ base: new URL('./', import.meta.url) });
//   const w = new wasm.PackedMatrix(weights, k, n);
//
// Artefacts (built by `cargo xtask bench --build all`, `wasm-bindgen --target web`), one folder
// each under `base`: pkg-relaxed (SIMD128 + relaxed SIMD), pkg-simd128, pkg-threads (SIMD128 +
// shared memory + rayon workers). A module containing relaxed-SIMD opcodes fails to compile where
// relaxed SIMD is missing (Node 20 without --experimental-wasm-relaxed-simd, Safari), so the choice
// is made before loading, by validating tiny probe modules.

const bytes = (...parts) => new Uint8Array(parts.flat());
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
// (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0)))
const V128_ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)];
const RELAXED_PROBE = bytes(HEADER, [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], [0x03, 0x02, 0x01, 0x00],
  [0x0a, 0x3d, 0x01, 0x3b, 0x00], V128_ZERO, V128_ZERO, V128_ZERO, [0xfd, 0x85, 0x02, 0x0b]);
// (func (result v128) (v128.const 0))
const SIMD_PROBE = bytes(HEADER, [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], [0x03, 0x02, 0x01, 0x00],
  [0x0a, 0x16, 0x01, 0x14, 0x00], V128_ZERO, [0x0b]);
// (memory 1 1 shared)
const SHARED_MEMORY_PROBE = bytes(HEADER, [0x05, 0x04, 0x01, 0x03, 0x01, 0x01]);

/** What this engine supports. */
export function detect() {
  const isolated = globalThis.crossOriginIsolated ?? Boolean(globalThis.process?.versions?.node);
  return {
    simd128: WebAssembly.validate(SIMD_PROBE),
    relaxedSimd: WebAssembly.validate(RELAXED_PROBE),
    sharedMemory: WebAssembly.validate(SHARED_MEMORY_PROBE) && typeof SharedArrayBuffer === 'function',
    crossOriginIsolated: isolated,
    workers: typeof globalThis.Worker === 'function',
  };
}

/**
 * The build to load: `threads` when more than one thread is requested and the engine can run
 * them (else an Error saying why), otherwise `relaxed` where relaxed SIMD validates, else `simd128`.
 */
export function chooseBuild({ threads = 1 } = {}, features = detect()) {
  if (!features.simd128) throw new Error('wasmnn needs WebAssembly SIMD128 (Chrome 91+, Firefox 89+, Safari 16.4+, Node 16.4+)');
  if (threads > 1) {
    const missing = [
      !features.sharedMemory && 'shared WebAssembly memory / SharedArrayBuffer',
      !features.crossOriginIsolated && 'cross-origin isolation (serve the page with COOP: same-origin and COEP: require-corp)',
      !features.workers && 'the Worker API',
    ].filter(Boolean);
    if (missing.length) throw new Error(`wasmnn: ${threads} threads requested, but this context lacks ${missing.join(', ')}`);
    return 'threads';
  }
  return features.relaxedSimd ? 'relaxed' : 'simd128';
}

/**
 * Loads and initialises the right artefact. Options: `base` (URL or path of the folder holding the
 * pkg-* folders), `threads` (default 1; > 1 loads the threads build and starts its pool: call this
 * from a Worker, since a page's main thread may not block), `build` (force one).
 * Returns `{ wasm, build, features }`, where `wasm` is the wasm-bindgen module namespace.
 */
export async function load({ base, threads = 1, build } = {}) {
  const features = detect();
  const chosen = build ?? chooseBuild({ threads }, features);
  const root = base instanceof URL ? base : new URL(base ?? './', globalThis.location?.href ?? `file://${process.cwd()}/`);
  const jsUrl = new URL(`pkg-${chosen}/wasmnn.js`, root);
  const wasm = await import(jsUrl.href);
  if (globalThis.process?.versions?.node) {
    const { readFile } = await import('node:fs/promises');
    await wasm.default({ module_or_path: await readFile(new URL(`pkg-${chosen}/wasmnn_bg.wasm`, root)) });
  } else {
    await wasm.default();
  }
  if (threads > 1) {
    if (!wasm.startThreads) throw new Error(`wasmnn: the ${chosen} build has no thread support`);
    await wasm.startThreads(threads); // throws an Error naming the cause when threads cannot start
  }
  return { wasm, build: chosen, features };
}
