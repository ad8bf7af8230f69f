/**
 * One GPU operation: dispatches and copies encoded into one command encoder, submitted once, then
 * its temporaries and uniform buffers go back to their pools (queue order makes reuse safe).
 * The uniforms of all its dispatches share slabs (one uniform buffer per 64 dispatches, at 256-byte
 * offsets), each written with one writeBuffer just before the submit.
 *
 * - dispatch: any kernel of kernels.ts, with named uniforms and bindings; a workgroup count past
 *   maxComputeWorkgroupsPerDimension folds into a 2-D grid (common.wgsl unfolds it).
 * - elementwise: the one driver of every element-wise kernel. Tensors larger than the
 *   storage-binding limit are processed in windows (buffer sub-ranges at aligned offsets); each
 *   window gets its own `n` and, through a function of the window's start, its own uniforms.
 */
import type { IdleBuffers } from '../core/merge/idle-buffers';
import type { BufferPool } from './buffer-pool';
import { GpuError } from './device';
import {
  type BindingName,
  type EntryPoint,
  KERNELS,
  type KernelName,
  type KernelOverrides,
  type KernelUniforms,
} from './kernels';
import type { PipelineCache } from './pipelines';
import { packUniforms } from './uniforms';
import { MapModeRead } from './usage';

/** What an operation uses of its context (GpuContext, context.ts). */
export interface OpContext {
  readonly device: GPUDevice;
  readonly storage: BufferPool;
  readonly readback: BufferPool;
  /** Read-back buffers the merge has written and handed back (WebGpuBackend.reuseOutput), filled again. */
  readonly spareOutputs: IdleBuffers<ArrayBuffer>;
  readonly uniforms: BufferPool;
  readonly pipelines: PipelineCache;
  readonly maxBindingBytes: number;
  readonly maxWorkgroupsPerDimension: number;
  readonly counters: { submits: number; dispatches: number; readbackBytes: number };
  check(): void;
  fail(message: string): void;
  /** `wait`, failed with the device's loss when the device is lost first (context.ts). */
  whileAlive<T>(wait: Promise<T>): Promise<T>;
}

/** A binding's byte range in a buffer. */
export interface BufferRange {
  readonly buffer: GPUBuffer;
  readonly offset?: number;
  readonly size: number;
}

/** An element-wise operand: a buffer of f32 elements, or of `bytesPerElement` bytes each, bound per
 * window; or a fixed range bound whole in every window (AIM's per-column scale, a histogram). */
export type Operand = GPUBuffer | { readonly buffer: GPUBuffer; readonly bytesPerElement: number } | BufferRange;

export interface DispatchArgs<K extends KernelName> {
  /** Default: the kernel's first entry point. */
  readonly entry?: EntryPoint<K>;
  readonly constants?: KernelOverrides<K>;
  readonly uniforms: KernelUniforms<K>;
  readonly bind: { readonly [B in BindingName<K>]: BufferRange };
  /** A count (folded into 2-D when needed) or an explicit [x, y] grid. */
  readonly workgroups: number | readonly [number, number];
}

type WindowUniforms<K extends KernelName> = Omit<KernelUniforms<K>, 'n'>;

/** The uniforms besides `n`, or a function of the window's first element; omitted when there are none. */
type WindowUniformsArg<K extends KernelName> = WindowUniforms<K> | ((start: number) => WindowUniforms<K>);

export type ElementwiseArgs<K extends KernelName> = {
  /** Elements; the kernel's `n` uniform is set per window. */
  readonly n: number;
  readonly entry?: EntryPoint<K>;
  readonly constants?: KernelOverrides<K>;
  readonly bind: { readonly [B in BindingName<K>]: Operand };
} & ([keyof WindowUniforms<K>] extends [never]
  ? { readonly uniforms?: WindowUniformsArg<K> }
  : { readonly uniforms: WindowUniformsArg<K> });

/** Window granule (elements): keeps every binding offset a multiple of 256 bytes. */
export const GRANULE = 65536;

/** Uniform offsets: 256 B, the largest minUniformBufferOffsetAlignment WebGPU allows (so every device's divides it). */
const UNIFORM_ALIGN = 256;
/** Bytes of one uniform slab: 64 dispatches' uniforms. */
const UNIFORM_SLAB_BYTES = 64 * UNIFORM_ALIGN;

/** A uniform buffer being filled: its bytes are staged on the CPU and written once, at submit. */
interface UniformSlab {
  readonly buffer: GPUBuffer;
  readonly bytes: Uint8Array;
  used: number;
}

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;
const isRange = (o: Operand): o is BufferRange => 'buffer' in o && !('bytesPerElement' in o);
const bytesPerElement = (o: Operand) => ('buffer' in o ? ('bytesPerElement' in o ? o.bytesPerElement : 0) : 4);

/**
 * [start, count] windows of `n` elements that keep `bytesPerElem`-byte bindings under `maxBindingBytes`
 * (and each window at most `maxElements`, when given: what one dispatch's grid covers).
 */
export function windows(
  n: number,
  bytesPerElem: number,
  maxBindingBytes: number,
  maxElements = Infinity,
): [number, number][] {
  const cap = Math.max(GRANULE, Math.floor(Math.min(maxBindingBytes / bytesPerElem, maxElements) / GRANULE) * GRANULE);
  if (n <= cap) return [[0, n]];
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += cap) out.push([s, Math.min(cap, n - s)]);
  return out;
}

/** `workgroups` as an [x, y] grid with both under `maxPerDim`. */
export function foldGrid(workgroups: number, maxPerDim: number): [number, number] {
  if (workgroups <= maxPerDim) return [workgroups, 1];
  const y = Math.ceil(workgroups / maxPerDim);
  if (y > maxPerDim) throw new GpuError(`dispatch of ${workgroups} workgroups does not fit a 2-D grid`);
  return [Math.ceil(workgroups / y), y];
}

export class GpuOp {
  readonly enc: GPUCommandEncoder;
  private readonly temps: GPUBuffer[] = [];
  private readonly slabs: UniformSlab[] = [];
  /** Run right after the submit (a staging buffer mapped again once the GPU has copied it). */
  private readonly submitted: (() => void)[] = [];

  constructor(
    private readonly ctx: OpContext,
    readonly label: string,
  ) {
    this.enc = ctx.device.createCommandEncoder({ label });
  }

  dispatch<K extends KernelName>(kernel: K, args: DispatchArgs<K>): void {
    const [x, y] =
      typeof args.workgroups === 'number'
        ? foldGrid(args.workgroups, this.ctx.maxWorkgroupsPerDimension)
        : args.workgroups;
    if (x <= 0 || y <= 0) return;
    const { device, pipelines } = this.ctx;
    const params = packUniforms(kernel, args.uniforms);
    const uniform = this.uniformSlot(params);
    const constants = Object.fromEntries(Object.entries(args.constants ?? {}).map(([k, v]) => [k, Number(v)]));
    const pipeline = pipelines.get(kernel, args.entry ?? Object.keys(KERNELS[kernel].entryPoints)[0]!, constants);
    const ranges = args.bind as Readonly<Record<string, BufferRange>>;
    const bindGroup = device.createBindGroup({
      label: `bg:${kernel}`,
      layout: pipelines.layout(kernel),
      entries: [
        { binding: 0, resource: { buffer: uniform.buffer, offset: uniform.offset, size: params.byteLength } },
        ...Object.keys(KERNELS[kernel].bindings).map((name, i) => {
          const r = ranges[name];
          if (!r) throw new GpuError(`${kernel}: binding '${name}' is not bound`);
          return { binding: i + 1, resource: { buffer: r.buffer, offset: r.offset ?? 0, size: r.size } };
        }),
      ],
    });
    const pass = this.enc.beginComputePass({ label: `${this.label}:${kernel}` });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y);
    pass.end();
    this.ctx.counters.dispatches++;
  }

  elementwise<K extends KernelName>(kernel: K, args: ElementwiseArgs<K>): void {
    const perWorkgroup = KERNELS[kernel].elementsPerWorkgroup;
    if (!perWorkgroup) throw new GpuError(`${kernel} is not an element-wise kernel`);
    const operands = Object.entries(args.bind as Readonly<Record<string, Operand>>);
    const widest = Math.max(...operands.map(([, o]) => bytesPerElement(o)));
    const gridElements = this.ctx.maxWorkgroupsPerDimension ** 2 * perWorkgroup;
    for (const [start, count] of windows(args.n, widest, this.ctx.maxBindingBytes, gridElements)) {
      const bind = Object.fromEntries(
        operands.map(([name, o]) => {
          const r = isRange(o)
            ? o
            : {
                buffer: 'buffer' in o ? o.buffer : o,
                offset: start * bytesPerElement(o),
                size: Math.ceil(count * bytesPerElement(o)),
              };
          return [name, { buffer: r.buffer, offset: r.offset ?? 0, size: roundUp(Math.max(16, r.size), 16) }];
        }),
      );
      const given = (args as { uniforms?: WindowUniformsArg<K> }).uniforms;
      const rest = typeof given === 'function' ? given(start) : given;
      const uniforms = { ...rest, n: count } as unknown as KernelUniforms<K>;
      const workgroups = Math.ceil(count / perWorkgroup);
      this.dispatch(kernel, {
        entry: args.entry,
        constants: args.constants,
        uniforms,
        bind: bind as DispatchArgs<K>['bind'],
        workgroups,
      });
    }
  }

  /** Where `params` go: the next 256-byte slot of the current slab (a new slab when it is full). */
  private uniformSlot(params: ArrayBuffer): { buffer: GPUBuffer; offset: number } {
    let slab = this.slabs[this.slabs.length - 1];
    if (!slab || slab.used + params.byteLength > slab.bytes.byteLength) {
      const size = Math.max(UNIFORM_SLAB_BYTES, roundUp(params.byteLength, UNIFORM_ALIGN));
      slab = { buffer: this.ctx.uniforms.acquire(size, 'uniforms'), bytes: new Uint8Array(size), used: 0 };
      this.slabs.push(slab);
    }
    const offset = slab.used;
    slab.bytes.set(new Uint8Array(params), offset);
    slab.used = roundUp(offset + params.byteLength, UNIFORM_ALIGN);
    return { buffer: slab.buffer, offset };
  }

  /** A scratch storage buffer, back to the pool after submit. */
  temp(bytes: number, label: string): GPUBuffer {
    const b = this.ctx.storage.acquire(Math.max(4, bytes), label);
    this.temps.push(b);
    return b;
  }

  /** Hands a storage buffer the encoded work may still read back to the pool after submit, not before. */
  releaseAfterSubmit(buffer: GPUBuffer): void {
    this.temps.push(buffer);
  }

  /** `then` runs once this operation is submitted. */
  afterSubmit(then: () => void): void {
    this.submitted.push(then);
  }

  /** Submits the encoded work; resolves once its validation and out-of-memory scopes are checked. */
  submit(): Promise<void> {
    const { device } = this.ctx;
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    for (const slab of this.slabs) device.queue.writeBuffer(slab.buffer, 0, slab.bytes.buffer, 0, slab.used);
    device.queue.submit([this.enc.finish()]);
    this.ctx.counters.submits++;
    for (const then of this.submitted) then();
    const scopes = Promise.all([device.popErrorScope(), device.popErrorScope()]).then(([oom, val]) => {
      const e = oom ?? val;
      if (e) this.ctx.fail(`WebGPU ${oom ? 'out of memory' : 'validation error'} in ${this.label}: ${e.message}`);
    });
    for (const b of this.temps) this.ctx.storage.release(b);
    for (const slab of this.slabs) this.ctx.uniforms.release(slab.buffer);
    return scopes;
  }

  /** Submits, then copies the first `bytes` of `src` back to the CPU. */
  async readBack(src: GPUBuffer, bytes: number): Promise<Uint8Array> {
    const size = roundUp(bytes, 4);
    const rb = this.ctx.readback.acquire(size, 'readback');
    this.enc.copyBufferToBuffer(src, 0, rb, 0, size);
    const scopes = this.submit();
    try {
      await this.ctx.whileAlive(rb.mapAsync(MapModeRead, 0, size));
    } catch (e) {
      this.ctx.check();
      throw new GpuError(`reading back from the GPU failed: ${(e as Error).message}`);
    }
    const spare = this.ctx.spareOutputs.take(bytes, 1);
    const out = spare ? new Uint8Array(spare) : new Uint8Array(bytes);
    out.set(new Uint8Array(rb.getMappedRange(0, size), 0, bytes));
    rb.unmap();
    this.ctx.readback.release(rb);
    this.ctx.counters.readbackBytes += size;
    await this.ctx.whileAlive(scopes);
    this.ctx.check();
    return out;
  }
}
