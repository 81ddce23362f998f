// Headless Debian Chromium for the benchmark pages (run.mjs, side.mjs): its flags, and the files
// the pages are served from (src/serve.mjs: 127.0.0.1, COOP/COEP).
import path from 'node:path';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

/** Where the pages find the peers' packages (served read-only from bench/node_modules). */
const NPM_ROOTS = ['onnxruntime-web/dist', '@tensorflow/tfjs-core/dist', '@tensorflow/tfjs-backend-wasm/dist'];

/**
 * The served roots (src/serve.mjs) for bench directory `bench`: browser/, src/, each package
 * of `pkgs` (paths of wasmnn.js) under /pkg/<its dirname>/, the peers' packages under /npm/.
 */
export function pageRoots(bench, pkgs) {
  const roots = { browser: path.join(bench, 'browser'), src: path.join(bench, 'src') };
  for (const pkg of pkgs) roots[`pkg/${path.basename(path.dirname(pkg))}`] = path.dirname(pkg);
  for (const r of NPM_ROOTS) roots[`npm/${r}`] = path.join(bench, 'node_modules', r);
  return roots;
}

/** The URL path of a package's JS glue and .wasm under `pageRoots` (`wasmFile`: its .wasm path). */
export function pkgUrls(pkg, wasmFile) {
  const base = `/pkg/${encodeURIComponent(path.basename(path.dirname(pkg)))}`;
  return { pkgUrl: `${base}/${path.basename(pkg)}`, wasmUrl: `${base}/${path.basename(wasmFile)}` };
}

/** Headless Chromium at `executablePath` (never a downloaded one), with `extraArgs` after ours. */
export async function launchChromium(executablePath, extraArgs = []) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}
