/**
 * Reused f32 buffers for the fast CPU backend: a released handle goes back to a free list for its
 * length and the next tensor of that length takes it, so a merge's chunks stop costing a fresh
 * zeroed allocation (and its page faults) per step. Only buffers the pool made are taken back.
 */
export class Float32Pool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly owned = new WeakSet<Float32Array>();
  private held = 0;

  /** `maxBytes`: free buffers kept beyond this are left to the garbage collector. */
  constructor(private readonly maxBytes = 256 * 2 ** 20) {}

  /** A buffer of `n` elements with unspecified contents. */
  take(n: number): Float32Array {
    const list = this.free.get(n);
    const reused = list?.pop();
    if (reused) {
      this.held -= reused.byteLength;
      return reused;
    }
    const fresh = new Float32Array(n);
    this.owned.add(fresh);
    return fresh;
  }

  /** Returns a buffer taken from this pool (anything else is ignored). */
  give(x: Float32Array): void {
    if (!this.owned.has(x) || this.held + x.byteLength > this.maxBytes) return;
    let list = this.free.get(x.length);
    if (!list) this.free.set(x.length, (list = []));
    if (list.includes(x)) return; // released twice: keep one entry
    list.push(x);
    this.held += x.byteLength;
  }

  clear(): void {
    this.free.clear();
    this.held = 0;
  }
}
