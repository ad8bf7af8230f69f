/**
 * Reused f32 buffers for the fast CPU backend, so a merge's chunks stop costing a fresh zeroed
 * allocation (and its page faults) per step. Buffers are made in size classes (8 per power of
 * two, ≤ 12.5 % slack) and handed out as views of the requested length: a released buffer serves
 * the next request of its class, or of a class up to 1.5× smaller, so the tensors of a model
 * (norms, projections, embedding chunks) share a few buffers instead of each length keeping its
 * own. Only views the pool made are taken back.
 */

/** Elements of the size class holding n: at least 1024, then 8 classes per power of two. */
export function sizeClass(n: number): number {
  if (n <= 1024) return 1024;
  const step = 2 ** Math.floor(Math.log2(n)) / 8;
  return Math.ceil(n / step) * step;
}

export class Float32Pool {
  private readonly free = new Map<number, Float32Array[]>();
  /** The whole buffer behind each view handed out. */
  private readonly owners = new WeakMap<Float32Array, Float32Array>();
  private held = 0;

  /** `maxBytes`: free buffers kept beyond this are left to the garbage collector. */
  constructor(private readonly maxBytes = 256 * 2 ** 20) {}

  /** A buffer of `n` elements with unspecified contents. */
  take(n: number): Float32Array {
    const size = sizeClass(n);
    let whole = this.free.get(size)?.pop() ?? this.larger(size);
    if (whole) this.held -= whole.byteLength;
    else whole = new Float32Array(size);
    const view = whole.subarray(0, n);
    this.owners.set(view, whole);
    return view;
  }

  /** A free buffer of a class up to 1.5× `size` (an embedding chunk's serves a projection), if any. */
  private larger(size: number): Float32Array | undefined {
    let best: number | undefined;
    for (const [c, list] of this.free)
      if (list.length && c > size && c <= 1.5 * size && (best ?? Infinity) > c) best = c;
    return best === undefined ? undefined : this.free.get(best)!.pop();
  }

  /** Returns a buffer taken from this pool (anything else, or a view already returned, is ignored). */
  give(x: Float32Array): void {
    const whole = this.owners.get(x);
    if (!whole) return;
    this.owners.delete(x);
    if (this.held + whole.byteLength > this.maxBytes) return;
    let list = this.free.get(whole.length);
    if (!list) this.free.set(whole.length, (list = []));
    list.push(whole);
    this.held += whole.byteLength;
  }

  clear(): void {
    this.free.clear();
    this.held = 0;
  }
}
