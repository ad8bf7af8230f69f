/**
 * The Node side of `RuntimeAdapter` (CLI, tests, benchmarks; never imported by the browser
 * build). WebGPU comes from Dawn's `webgpu` package; it needs a Vulkan ICD (VK_ICD_FILENAMES,
 * see scripts/setup-vulkan.sh). ORT hands `GPUQueue.writeBuffer` views of wasm memory, which is
 * a SharedArrayBuffer; Dawn's Node binding rejects those and the process aborts, so writeBuffer
 * is wrapped to copy such data into a plain Uint8Array first (a Node-only shim).
 */
import type { EpName, OrtModule, RuntimeAdapter } from './runtime';

let gpuPromise: Promise<GPU | undefined> | undefined;

async function dawnGpu(): Promise<GPU | undefined> {
  const nav = globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined;
  if (nav?.gpu) return nav.gpu;
  const { create, globals } = (await import('webgpu')) as unknown as { create(flags: string[]): GPU; globals: Record<string, unknown> };
  Object.assign(globalThis, globals);
  const queueProto = (globals.GPUQueue as { prototype: GPUQueue } | undefined)?.prototype;
  if (queueProto && !(queueProto as unknown as { __mergeLabShim?: boolean }).__mergeLabShim) {
    const original = queueProto.writeBuffer;
    queueProto.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: BufferSource | SharedArrayBuffer, dataOffset?: number, size?: number) {
      const view = ArrayBuffer.isView(data) ? data : null;
      const backing = view ? view.buffer : (data as ArrayBufferLike);
      if (typeof SharedArrayBuffer !== 'undefined' && backing instanceof SharedArrayBuffer) {
        const elem = view && 'BYTES_PER_ELEMENT' in view ? (view as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT : 1;
        const byteOffset = (view?.byteOffset ?? 0) + (dataOffset ?? 0) * elem;
        const byteLen = size !== undefined ? size * elem : (view ? view.byteLength : backing.byteLength) - (dataOffset ?? 0) * elem;
        const copy = new Uint8Array(byteLen);
        copy.set(new Uint8Array(backing, byteOffset, byteLen));
        return original.call(this, buffer, offset, copy);
      }
      return original.call(this, buffer, offset, data as BufferSource, dataOffset, size);
    } as GPUQueue['writeBuffer'];
    (queueProto as unknown as { __mergeLabShim: boolean }).__mergeLabShim = true;
  }
  const gpu = create([]);
  if (!globalThis.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
  return gpu;
}

export interface NodeAdapterOptions {
  /** wasm threads (ORT's `env.wasm.numThreads`); default: ORT's own choice. */
  threads?: number;
}

export function nodeRuntimeAdapter(opts: NodeAdapterOptions = {}): RuntimeAdapter {
  return {
    gpu: () => (gpuPromise ??= dawnGpu()),
    loadOrt: async (ep: EpName) =>
      ep === 'webgpu' ? ((await import('onnxruntime-web/webgpu')) as OrtModule) : ((await import('onnxruntime-web')) as OrtModule),
    configure: (env) => {
      if (opts.threads !== undefined) env.wasm.numThreads = opts.threads;
      env.logLevel = 'error';
    },
  };
}
