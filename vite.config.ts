import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';
import { ortAssets } from './tools/vite-plugin-ort.ts';

// Cross-origin isolation (COOP/COEP) lets onnxruntime-web use wasm threads (SharedArrayBuffer).
// The build also runs without it (single-threaded wasm), from any static host at any path.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// The workers' dependencies, optimised up front: the dependency scan does not follow
// `new Worker(new URL(…))`, and a dependency found at the first Evaluate would make the dev server
// re-optimise and reload the page (losing every merge and setting).
const WORKER_DEPS = [
  'onnxruntime-web',
  'onnxruntime-web/webgpu',
  '@huggingface/tokenizers',
  '@huggingface/jinja',
  '@noble/hashes/sha2.js',
  '@noble/hashes/utils.js',
  'protobufjs/light.js',
  'comlink',
  'yaml',
  'chart.js',
];

export default defineConfig({
  // Relative asset paths: the build works from any folder of any static host.
  base: './',
  plugins: [svelte(), ortAssets()],
  server: { headers: isolation, port: 5173, strictPort: false },
  preview: { headers: isolation, port: 4173, strictPort: false },
  optimizeDeps: { entries: ['index.html', 'src/workers/*.worker.ts'], include: WORKER_DEPS },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
});
