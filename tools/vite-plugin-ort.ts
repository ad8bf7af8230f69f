/**
 * Serves onnxruntime-web's wasm runtime from a fixed same-origin path (/ort/), in dev, preview
 * and build. ORT's threaded wasm worker then never tries to load the app bundle, and the page
 * needs no CDN (see ../shared notes: a fixed `ort.env.wasm.wasmPaths` fixes threads in a build).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Connect, Plugin } from 'vite';

const FILES = [
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
  'ort-wasm-simd-threaded.jsep.mjs',
  'ort-wasm-simd-threaded.jsep.wasm',
  'ort-wasm-simd-threaded.asyncify.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm',
];

function distDir(): string {
  // The package's entry point lives in dist/, beside the wasm files (package.json is not exported).
  const entry = createRequire(import.meta.url).resolve('onnxruntime-web');
  let dir = path.dirname(entry);
  while (path.basename(dir) !== 'dist' && dir !== path.dirname(dir)) dir = path.dirname(dir);
  return dir;
}

function middleware(): Connect.NextHandleFunction {
  const dir = distDir();
  return (req, res, next) => {
    const m = /^\/ort\/([\w.-]+)(\?.*)?$/.exec(req.url ?? '');
    if (!m || !FILES.includes(m[1]!)) return next();
    res.setHeader('Content-Type', m[1]!.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
    // ORT also starts its thread workers from the .mjs: a worker script in a cross-origin
    // isolated page must itself carry COEP, or Chromium blocks it.
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    createReadStream(path.join(dir, m[1]!)).pipe(res);
  };
}

export function ortAssets(): Plugin {
  return {
    name: 'merge-lab-ort-assets',
    configureServer(server) {
      server.middlewares.use(middleware());
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware());
    },
    generateBundle() {
      const dir = distDir();
      for (const f of FILES)
        this.emitFile({ type: 'asset', fileName: `ort/${f}`, source: readFileSync(path.join(dir, f)) });
    },
  };
}
