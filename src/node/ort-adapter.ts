/**
 * onnxruntime-web in Node (CLI, tests, benchmarks; never in the browser build), the twin of
 * src/browser/ort-adapter.ts: WebGPU is Dawn, prepared by ./webgpu-env.ts (which also makes
 * Dawn accept the SharedArrayBuffer views ORT writes); wasm runs from the package itself.
 */
import type { EpName, OrtModule, RuntimeAdapter } from '../infer/runtime';
import { nodeGpu } from './webgpu-env';

export interface NodeAdapterOptions {
  /** wasm threads (ORT's `env.wasm.numThreads`); default: ORT's own choice. */
  threads?: number;
}

export function nodeRuntimeAdapter(opts: NodeAdapterOptions = {}): RuntimeAdapter {
  return {
    gpu: nodeGpu,
    loadOrt: async (ep: EpName) =>
      ep === 'webgpu'
        ? ((await import('onnxruntime-web/webgpu')) as OrtModule)
        : ((await import('onnxruntime-web')) as OrtModule),
    configure: (env) => {
      if (opts.threads !== undefined) env.wasm.numThreads = opts.threads;
      env.logLevel = 'error';
    },
  };
}
