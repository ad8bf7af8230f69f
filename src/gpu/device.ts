/**
 * WebGPU device acquisition. Reports the adapter and the limits the backend plans with; turns
 * device loss into a clear error; hands the next caller a fresh device once one was lost.
 * Works with any `GPU` object: `navigator.gpu` in a page or worker, Dawn's `webgpu` in Node.
 * GPU failures are LabErrors (code 'gpu', 'device-lost' or 'no-adapter'); the merge executor adds
 * the tensor it was working on.
 */
import { LabError } from '../core/errors';

export interface AdapterReport {
  /** Human-readable, e.g. `llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)` or `SwiftShader Device`. */
  readonly name: string;
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly features: readonly string[];
  readonly shaderF16: boolean;
  readonly limits: GpuLimits;
}

export interface GpuLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly minStorageBufferOffsetAlignment: number;
}

export type GpuErrorCode = 'gpu' | 'device-lost' | 'no-adapter';

/** A WebGPU failure: validation, out of memory, a failed readback, a misuse of the backend. */
export class GpuError extends LabError {
  override readonly name: string = 'GpuError';
  readonly code: GpuErrorCode = 'gpu';
}

/** No usable WebGPU here: no `navigator.gpu`, no adapter, or an adapter below the backend's needs. */
export class NoGpuAdapterError extends GpuError {
  override readonly name = 'NoGpuAdapterError';
  override readonly code = 'no-adapter';
}

export class GpuDeviceLostError extends GpuError {
  override readonly name = 'GpuDeviceLostError';
  override readonly code = 'device-lost';
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(
      `WebGPU device lost (${reason || 'unknown'}): ${(detail || 'no details').replace(/\.$/, '')}. This merge stopped; the next merge requests a new device.`,
    );
  }
}

/** CPU implementations of WebGPU (lavapipe/llvmpipe, SwiftShader), from the adapter's name. */
export function isSoftwareAdapter(name: string): boolean {
  return /llvmpipe|lavapipe|swiftshader|software/i.test(name);
}

/**
 * SwiftShader (headless Chromium's adapter) runs a kernel with workgroup barriers as one coroutine
 * per 4 invocations, each with its own stack: compiling and running the workgroup histogram there
 * cost ~190 MB transient and ~60 MB resident, and it ran 2.3× slower than plain atomics.
 */
export function barriersAreCostly(name: string): boolean {
  return /swiftshader/i.test(name);
}

export interface GpuDevice {
  readonly device: GPUDevice;
  readonly adapter: AdapterReport;
  /** Set once the device is lost (destroyed, driver reset, out of memory…). */
  readonly lost: { reason: string; message: string } | undefined;
}

/** The backend needs 7 storage buffers in one stage (disjoint-mean); WebGPU guarantees 8. */
const NEEDED_STORAGE_BUFFERS = 8;

function report(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  const l = adapter.limits;
  const features = [...adapter.features].sort();
  const name =
    info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'unknown adapter';
  return {
    name,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    features,
    shaderF16: adapter.features.has('shader-f16'),
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
    },
  };
}

/** Requests an adapter and a device with the adapter's full buffer limits. */
export async function requestGpuDevice(
  gpu: GPU | undefined,
  powerPreference: GPUPowerPreference = 'high-performance',
): Promise<GpuDevice> {
  if (!gpu) throw new NoGpuAdapterError('WebGPU is not available here (no navigator.gpu)');
  const adapter = await gpu.requestAdapter({ powerPreference });
  if (!adapter)
    throw new NoGpuAdapterError('no WebGPU adapter was found (no GPU, or no usable Vulkan/Metal/D3D driver)');
  const rep = report(adapter);
  if (rep.limits.maxStorageBuffersPerShaderStage < NEEDED_STORAGE_BUFFERS - 1)
    throw new NoGpuAdapterError(
      `adapter ${rep.name} offers ${rep.limits.maxStorageBuffersPerShaderStage} storage buffers per stage; 7 are needed`,
    );
  const device = await adapter.requestDevice({
    label: 'merge-lab',
    requiredLimits: {
      maxStorageBufferBindingSize: rep.limits.maxStorageBufferBindingSize,
      maxBufferSize: rep.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(rep.limits.maxStorageBuffersPerShaderStage, NEEDED_STORAGE_BUFFERS),
      // The backend plans bindings with the adapter's alignment (16 on lavapipe); the default device enforces 256.
      minStorageBufferOffsetAlignment: rep.limits.minStorageBufferOffsetAlignment,
    },
  });
  const handle: { device: GPUDevice; adapter: AdapterReport; lost: GpuDevice['lost'] } = {
    device,
    adapter: rep,
    lost: undefined,
  };
  void device.lost.then((info) => {
    handle.lost = { reason: info.reason, message: info.message };
  });
  return handle;
}

const shared = new WeakMap<GPU, Promise<GpuDevice>>();

/**
 * The shared device for `gpu`: requested once, reused by every merge, and replaced by a fresh one
 * when it was lost (so a lost device fails one merge, not every later one).
 */
export async function acquireGpuDevice(gpu: GPU | undefined): Promise<GpuDevice> {
  if (!gpu) return requestGpuDevice(gpu);
  const prev = shared.get(gpu);
  if (prev) {
    const d = await prev.catch(() => undefined);
    if (d && !d.lost) return d;
  }
  const next = requestGpuDevice(gpu);
  shared.set(gpu, next);
  next.catch(() => shared.delete(gpu));
  return next;
}

/** The WebGPU of this page or worker, if any. */
export function browserGpu(): GPU | undefined {
  return typeof navigator !== 'undefined' && 'gpu' in navigator ? navigator.gpu : undefined;
}
