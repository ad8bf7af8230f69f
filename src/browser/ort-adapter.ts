/**
 * onnxruntime-web in the page: its wasm files from the app's own ort/ folder (relative to the page,
 * wherever it is hosted), threads when the page is cross-origin isolated (COOP/COEP), else one thread.
 */
import type { RuntimeAdapter } from '../infer/runtime';
import { appBaseUrl } from './app-base';

/** Wasm threads onnxruntime-web may use here: up to 4 when cross-origin isolated, else 1. */
export function wasmThreads(): number {
  return globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
}

export function browserRuntimeAdapter(base = appBaseUrl()): RuntimeAdapter {
  return {
    gpu: async () => (typeof navigator !== 'undefined' && 'gpu' in navigator ? navigator.gpu : undefined),
    configure(env) {
      env.wasm.wasmPaths = `${base}ort/`;
      env.wasm.numThreads = wasmThreads();
      env.logLevel = 'error';
    },
  };
}
