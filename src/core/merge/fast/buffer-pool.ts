/**
 * Reused f32 buffers for the fast CPU backend, so a merge's chunks stop costing a fresh zeroed
 * allocation (and its page faults) per step. Buffers are made in size classes (8 per power of
 * two, ≤ 12.5 % slack) and handed out as views of the requested length: a released buffer serves
 * the next request of its class, or of a class up to 1.5× smaller, so the tensors of a model
 * (norms, projections, embedding chunks) share a few buffers instead of each length keeping its
 * own. Only views the pool made are taken back.
 */
import { IdleBuffers } from '../idle-buffers';

/** Elements of the size class holding n: at least 1024, then 8 classes per power of two. */
export function sizeClass(n: number): number {
  if (n <= 1024) return 1024;
  const step = 2 ** Math.floor(Math.log2(n)) / 8;
  return Math.ceil(n / step) * step;
}

export class Float32Pool {
  private readonly idle: IdleBuffers<ArrayBuffer>;
  /** The whole buffer behind each view handed out. */
  private readonly owners = new WeakMap<Float32Array, ArrayBuffer>();

  /** `maxBytes`: free buffers kept beyond this are left to the garbage collector. */
  constructor(maxBytes = 256 * 2 ** 20) {
    this.idle = new IdleBuffers(maxBytes);
  }

  /** A buffer of `n` elements with unspecified contents: its class's, or one of a class up to 1.5× larger. */
  take(n: number): Float32Array {
    const bytes = 4 * sizeClass(n);
    const view = new Float32Array(this.idle.take(bytes, 1.5) ?? new ArrayBuffer(bytes), 0, n);
    this.owners.set(view, view.buffer as ArrayBuffer);
    return view;
  }

  /** Returns a buffer taken from this pool (anything else, or a view already returned, is ignored). */
  give(x: Float32Array): void {
    const whole = this.owners.get(x);
    if (!whole) return;
    this.owners.delete(x);
    this.idle.give(whole);
  }

  clear(): void {
    this.idle.clear();
  }
}
