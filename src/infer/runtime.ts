/**
 * onnxruntime-web sessions: which execution provider (WebGPU, falling back to wasm) and why,
 * and loading ORT itself. Runs unchanged in a browser worker and in Node; what differs (Dawn's
 * `navigator.gpu` in Node, wasm file paths in a Vite build) comes in through `RuntimeAdapter`.
 */
import type * as Ort from 'onnxruntime-web';
import { isSoftwareAdapter } from '../gpu/device';
import { InferError } from './errors';

export type OrtModule = typeof Ort;
export type EpName = 'webgpu' | 'wasm';
/** `auto`: WebGPU when an adapter exists, otherwise wasm. `webgpu`: WebGPU or an error. */
export type EpChoice = 'auto' | EpName;

export interface EpReport {
  readonly ep: EpName;
  /** Why this EP: requested, or why WebGPU was not used. */
  readonly reason: string;
  /** The GPU adapter's description when WebGPU is used. */
  readonly adapter?: string;
}

/** The adapter's real buffer limits (what ORT's WebGPU EP requests for its device). */
export interface AdapterLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

export interface RuntimeAdapter {
  /** Makes `navigator.gpu` available (Node: Dawn) and returns it, or undefined when there is none. */
  gpu?(): Promise<GPU | undefined>;
  /** Imports onnxruntime-web for an EP. Default: `onnxruntime-web/webgpu` for WebGPU, `onnxruntime-web` for wasm. */
  loadOrt?(ep: EpName): Promise<OrtModule>;
  /** Applied to `ort.env` after loading (e.g. `env.wasm.wasmPaths`, `env.wasm.numThreads`). */
  configure?(env: OrtModule['env'], ep: EpName): void;
}

async function defaultLoadOrt(ep: EpName): Promise<OrtModule> {
  return ep === 'webgpu'
    ? ((await import('onnxruntime-web/webgpu')) as OrtModule)
    : ((await import('onnxruntime-web')) as OrtModule);
}

function describeAdapter(a: GPUAdapter): string {
  const i = a.info;
  return [i?.vendor, i?.architecture, i?.device, i?.description].filter((s) => s).join(' ') || 'unknown adapter';
}

/**
 * Finds out whether WebGPU can be used, without creating a session. `software`: the adapter runs
 * WebGPU on the CPU (a fallback adapter, Mesa lavapipe/llvmpipe, SwiftShader), slower than wasm.
 */
export type WebGpuProbe =
  | {
      ok: true;
      adapter: string;
      software: boolean;
      limits?: AdapterLimits;
      /** The adapter offers `shader-f16` (f16 arithmetic in shaders; ORT's WebGPU EP requests it when offered). */
      shaderF16: boolean;
    }
  | { ok: false; reason: string };

export async function probeWebGpu(adapter: RuntimeAdapter): Promise<WebGpuProbe> {
  let gpu: GPU | undefined;
  try {
    gpu = adapter.gpu ? await adapter.gpu() : (globalThis.navigator as Navigator | undefined)?.gpu;
  } catch (e) {
    return { ok: false, reason: `WebGPU could not be initialised: ${(e as Error).message}` };
  }
  if (!gpu) return { ok: false, reason: 'navigator.gpu is not available in this environment' };
  try {
    const a = await gpu.requestAdapter();
    if (!a) return { ok: false, reason: 'navigator.gpu.requestAdapter() returned no adapter' };
    const description = describeAdapter(a);
    const fallback =
      (a as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? a.info?.isFallbackAdapter ?? false;
    const limits = a.limits
      ? { maxBufferSize: a.limits.maxBufferSize, maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize }
      : undefined;
    return {
      ok: true,
      adapter: description,
      software: fallback || isSoftwareAdapter(description),
      ...(limits && { limits }),
      shaderF16: a.features?.has('shader-f16') ?? false,
    };
  } catch (e) {
    return { ok: false, reason: `requestAdapter failed: ${(e as Error).message}` };
  }
}

/**
 * The EP a choice will run on, decided before anything is loaded (one adapter request per load):
 * `wasm` as requested; with `auto`, WebGPU when a hardware adapter exists, wasm for no adapter or a
 * CPU-emulated one (slower than wasm); `webgpu` on any adapter, or an InferError 'session' when there
 * is none. `probe` is what WebGPU offered (the limits for the memory plan, `shader-f16`).
 */
export interface EpDecision {
  readonly ep: EpName;
  readonly reason: string;
  readonly choice: EpChoice;
  readonly probe?: WebGpuProbe;
}

export async function chooseEp(choice: EpChoice, adapter: RuntimeAdapter = {}): Promise<EpDecision> {
  if (choice === 'wasm') return { ep: 'wasm', reason: 'requested', choice };
  const probe = await probeWebGpu(adapter);
  if (!probe.ok) {
    if (choice === 'webgpu') throw new InferError('session', `the WebGPU EP was requested but ${probe.reason}`);
    return { ep: 'wasm', reason: `fell back to wasm: ${probe.reason}`, choice, probe };
  }
  if (probe.software && choice === 'auto')
    return {
      ep: 'wasm',
      reason: `the only WebGPU adapter (${probe.adapter}) runs on the CPU; wasm is faster there (pass ep 'webgpu' to use it anyway)`,
      choice,
      probe,
    };
  return { ep: 'webgpu', reason: choice === 'webgpu' ? 'requested' : 'WebGPU adapter found', choice, probe };
}

export interface OpenedSession {
  readonly ort: OrtModule;
  readonly session: Ort.InferenceSession;
  readonly report: EpReport;
}

/**
 * Creates the session on the chosen EP (decided by `chooseEp`, or here when no decision is given).
 * When WebGPU session creation fails under `auto`, falls back to wasm and the report says why.
 * `model` may depend on the EP (a graph built for WebGPU's f16 compute cannot run on wasm).
 */
export async function openSession(
  model: Uint8Array | ((ep: EpName) => Uint8Array),
  externalData: { path: string; data: Uint8Array | Blob }[],
  choice: EpChoice,
  adapter: RuntimeAdapter = {},
  /** Outputs to leave in GPU buffers on the WebGPU EP (the KV cache fed back next step). */
  gpuOutputs: readonly string[] = [],
  decided?: EpDecision,
): Promise<OpenedSession> {
  const create = async (ep: EpName) => {
    const ort = await (adapter.loadOrt ?? defaultLoadOrt)(ep);
    adapter.configure?.(ort.env, ep);
    const session = await ort.InferenceSession.create(typeof model === 'function' ? model(ep) : model, {
      executionProviders: [ep],
      externalData,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      ...(ep === 'webgpu' && gpuOutputs.length
        ? { preferredOutputLocation: Object.fromEntries(gpuOutputs.map((n) => [n, 'gpu-buffer' as const])) }
        : {}),
    });
    return { ort, session };
  };
  const decision = decided ?? (await chooseEp(choice, adapter));
  if (decision.ep === 'wasm') return { ...(await create('wasm')), report: { ep: 'wasm', reason: decision.reason } };
  try {
    const s = await create('webgpu');
    const probe = decision.probe;
    return { ...s, report: { ep: 'webgpu', reason: decision.reason, ...(probe?.ok && { adapter: probe.adapter }) } };
  } catch (e) {
    const why = `WebGPU session creation failed: ${(e as Error).message}`;
    if (decision.choice === 'webgpu') throw new InferError('session', `the WebGPU EP was requested but ${why}`);
    return { ...(await create('wasm')), report: { ep: 'wasm', reason: `fell back to wasm: ${why}` } };
  }
}
