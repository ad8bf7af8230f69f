/**
 * The WebGPU backend's working tensor (backend.ts) and the three forms it takes:
 *   - f32 values, as every kernel reads them;
 *   - `packed`: a loaded f16/bf16 chunk in its storage form (two 16-bit words per u32, half the
 *     bytes of f32), decoded to f32 only when a kernel needs f32 values;
 *   - `pending`: a weighted sum of packed tensors not computed yet (no buffer). `store` computes it
 *     and narrows it to 16 bits in one kernel (shaders/weighted-sum16.wgsl); any other use computes
 *     it in f32 with the same kernel.
 * A pending sum reads its inputs' buffers after they may have been released: BufferPins keeps such
 * a buffer out of the pool until the last sum that reads it is computed or released.
 */
import { GpuError } from './device';
import type { Dtype16, PackedSum } from './fused';

export class GpuTensor {
  /** f32 values; 16-bit words when `packed`; undefined while `pending`. */
  buffer: GPUBuffer | undefined;
  packed: Dtype16 | undefined;
  pending: PackedSum | undefined;
  released = false;

  constructor(
    readonly length: number,
    buffer?: GPUBuffer,
  ) {
    this.buffer = buffer;
  }
}

/** `x`, or a GpuError when it was released. */
export function live(x: GpuTensor): GpuTensor {
  if (x.released) throw new GpuError('a released GPU tensor was used');
  return x;
}

/** Counts of the pending sums reading each buffer; a buffer dropped while pinned is freed at its last unpin. */
export class BufferPins {
  private readonly counts = new Map<GPUBuffer, number>();
  private readonly dropped = new Set<GPUBuffer>();

  pin(buffer: GPUBuffer): void {
    this.counts.set(buffer, (this.counts.get(buffer) ?? 0) + 1);
  }

  /** Its tensor no longer needs `buffer`: true when it may be freed now (no sum reads it). */
  drop(buffer: GPUBuffer): boolean {
    if (!this.counts.has(buffer)) return true;
    this.dropped.add(buffer);
    return false;
  }

  /** A sum no longer reads `buffer`: true when that was the last reader of a dropped buffer (free it now). */
  unpin(buffer: GPUBuffer): boolean {
    const left = (this.counts.get(buffer) ?? 1) - 1;
    if (left > 0) {
      this.counts.set(buffer, left);
      return false;
    }
    this.counts.delete(buffer);
    return this.dropped.delete(buffer);
  }
}
