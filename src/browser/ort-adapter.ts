/** onnxruntime-web in the page: its wasm files from the app's own /ort/ path, threads when isolated. */
import type { RuntimeAdapter } from '../infer/runtime';

export function browserRuntimeAdapter(base = import.meta.env.BASE_URL): RuntimeAdapter {
  return {
    gpu: async () => (typeof navigator !== 'undefined' && 'gpu' in navigator ? navigator.gpu : undefined),
    configure(env) {
      env.wasm.wasmPaths = `${base}ort/`;
      env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
      env.logLevel = 'error';
    },
  };
}
