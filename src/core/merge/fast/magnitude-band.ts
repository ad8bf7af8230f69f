/**
 * The trim of the fast magnitude merges as the merge pass applies it: a model's kept band of |δ|
 * bit patterns, ties at its bounds counted off in index order. The scalar mask loop is here; the
 * wasm SIMD twin (simd/simd-kernels.ts) masks whole blocks and falls back to this loop for the
 * one block where a bound's ties are only partly kept.
 */
/**
 * A kept band as the merge pass applies it, chunk after chunk in index order: |x| bits above `lo`
 * and below `hi`; of the elements equal to `lo`, the next `loLeft` are kept (breadcrumbs: of those
 * equal to `hi`, the next `hiLeft` are dropped). The counts go down as ties are met (∞: all).
 */
export interface BandState {
  readonly lo: number;
  loLeft: number;
  readonly hi: number;
  hiLeft: number;
}

/** Elements per block of the merge loops: every array a block touches stays in L1. */
export const BLOCK = 4096;

/** bits[i] ← bits[i] where the band keeps |x|, else +0, for i in [from, to), counting ties off. */
export function maskBand(bits: Int32Array, band: BandState, from: number, to: number): void {
  const { lo, hi } = band;
  let { loLeft, hiLeft } = band;
  for (let i = from; i < to; i++) {
    const b = bits[i]!;
    const a = b & 0x7fffffff;
    let keep = +(a > lo) & +(a < hi);
    if (a === lo || a === hi) {
      // A tie at a bound (rare): kept or dropped in index order; NaNs never equal a bound.
      const inLo = a > lo || (a === lo && loLeft-- > 0);
      const inHi = a > hi || (a === hi && hiLeft-- > 0);
      keep = +(inLo && !inHi);
    }
    bits[i] = b & -keep;
  }
  band.loLeft = loLeft;
  band.hiLeft = hiLeft;
}

/** How a block's ties at the band's bounds go: all equal to `lo` kept or not, all equal to `hi` dropped or not. */
export interface BlockTies {
  readonly keepLo: boolean;
  readonly dropHi: boolean;
}

/**
 * The block's ties when each bound's are kept (or dropped) all or none, counting them off the band;
 * undefined when some are kept and some not (then maskBand, element by element). `countEq(v)`: how
 * many elements of the block have |x| bits v.
 */
export function blockTies(band: BandState, countEq: (v: number) => number): BlockTies | undefined {
  const lo = boundTies(band.loLeft, () => countEq(band.lo));
  const hi = boundTies(band.hiLeft, () => countEq(band.hi));
  if (!lo || !hi) return undefined;
  band.loLeft -= lo.met;
  band.hiLeft -= hi.met;
  return { keepLo: lo.all, dropHi: hi.all };
}

/** One bound: whether every tie met is taken (kept at lo, dropped at hi), and how many are counted off. */
function boundTies(left: number, count: () => number): { all: boolean; met: number } | undefined {
  if (left === Infinity) return { all: true, met: 0 };
  if (left <= 0) return { all: false, met: 0 }; // maskBand's count stays ≤ 0: none taken either way
  const met = count();
  return met <= left ? { all: true, met } : undefined;
}
