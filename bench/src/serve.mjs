// A static file server for pages that run wasmnn in Chromium: 127.0.0.1 only, GET only, no
// caching, and cross-origin isolation (COOP: same-origin, COEP: require-corp), which the threads
// build needs (SharedArrayBuffer) and which also gives the 5 us timer.
//
//   const server = await serve({ browser: '/abs/dir', 'pkg/pkg-simd128': '/abs/pkg' }, port);
//   // GET /browser/index.html -> /abs/dir/index.html; anything outside the roots -> 404
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.txt': 'text/plain; charset=utf-8', '.png': 'image/png', '.css': 'text/css',
};

/**
 * Serves each directory of `roots` (URL prefix without slashes at either end -> absolute path)
 * under `/<prefix>/`, on 127.0.0.1 at `port` (0: any free port). Resolves to the listening
 * `http.Server`.
 */
export function serve(roots, port = 0) {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    const top = Object.keys(roots).find((k) => rel.startsWith(`/${k}/`));
    const root = top && roots[top];
    const file = root && path.join(root, rel.slice(top.length + 2));
    const inside = file && file.startsWith(root + path.sep);
    if (req.method !== 'GET' || !inside || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store',
      'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
