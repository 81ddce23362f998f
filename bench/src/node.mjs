// Node-only helpers: load a wasm-bindgen `--target web` package from disk, and re-run the current
// script with V8's relaxed-SIMD flag when this Node cannot compile relaxed SIMD without it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';

// (module (func (result v128) v128.const 0 v128.const 0 v128.const 0 f32x4.relaxed_madd))
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section, one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array(16).fill(0)]), // 3 x v128.const 0
  0xfd, 0x85, 0x02, // f32x4.relaxed_madd
  0x0b, // end
]);

/** Whether this engine compiles relaxed-SIMD instructions (Node 20 only with RELAXED_FLAG). */
export function relaxedSimdSupported() {
  return WebAssembly.validate(RELAXED_PROBE);
}

/**
 * If relaxed SIMD is unavailable and the flag was not given, re-runs this script in a child
 * Node with the flag (stdio inherited) and exits with its status. Returns only otherwise.
 * With `wasmFile`, returns at once when that module already compiles here (e.g. a simd128 build).
 */
export async function ensureRelaxedSimd(script, wasmFile) {
  if (relaxedSimdSupported() || process.execArgv.includes(RELAXED_FLAG)) return;
  if (wasmFile && WebAssembly.validate(fs.readFileSync(wasmFile))) return;
  process.stderr.write(`[wasmnn] relaxed SIMD needs ${RELAXED_FLAG} on node ${process.versions.node}: re-running with it\n`);
  const child = spawn(process.execPath, [...process.execArgv, RELAXED_FLAG, script, ...process.argv.slice(2)],
    { stdio: 'inherit' });
  const code = await new Promise((resolve) => child.on('close', (status, signal) => resolve(signal ? 1 : status)));
  process.exit(code ?? 1);
}

/** Wasm file of a `--target web` package: `<dir>/<name>_bg.wasm` next to `<dir>/<name>.js`. */
export function wasmPathOf(pkgJs) {
  return pkgJs.replace(/\.m?js$/, '_bg.wasm');
}

/** "pkg-simd128/wasmnn_bg.wasm": the file's directory and name, so the two builds differ. */
export function binaryLabel(file) {
  return `${path.basename(path.dirname(file))}/${path.basename(file)}`;
}

/**
 * Imports the package's JS glue and instantiates its .wasm read with fs. A distinct `instance`
 * tag (a query string) gives a fresh module instance, with its own memory and thread pool.
 */
export async function loadPkgNode(pkgJs, instance) {
  const js = path.resolve(pkgJs);
  const wasmFile = wasmPathOf(js);
  const wasm = await import(pathToFileURL(js).href + (instance ? `?${instance}` : ''));
  await wasm.default({ module_or_path: fs.readFileSync(wasmFile) });
  return { wasm, binary: binaryLabel(wasmFile) };
}

/**
 * `opt(name, fallback)` over command-line `args`: the value after `--name`, or `fallback`;
 * throws (with `usage`) when the flag is last, without a value.
 */
export function optionReader(args, usage) {
  return (name, fallback) => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    if (i + 1 >= args.length) throw new Error(`${name} needs a value\n${usage}`);
    return args[i + 1];
  };
}
