/**
 * The fast CPU backend's vector kernels (merge-kernels.wat, wasm SIMD) behind a small TypeScript
 * API. Tensors stay in JS memory; each call streams them through the module's first two 64 KiB
 * pages in blocks of BLOCK elements (copy in, decode, weighted sum, encode, copy out), so the work
 * stays in the core's cache; the magnitude selection's histograms live in the module after them.
 * The module never grows. Bit-identical to the scalar kernels (codec.ts, kernels.ts,
 * magnitude-*.ts), which remain the path where wasm SIMD is missing (`simdKernels()` is undefined).
 */
import { type BandState, blockTies, maskBand } from '../magnitude-band';
import { MERGE_KERNELS_WASM } from './merge-kernels.wasm';

/** A 16-bit storage dtype the kernels decode and encode. */
export type Half = 'F16' | 'BF16';

/** A weighted-sum operand: 16-bit storage words, or f32 values. */
export type SimdOperand = { readonly words: Uint16Array; readonly dtype: Half } | { readonly values: Float32Array };

/** Where a weighted sum goes: f32 values, or 16-bit words rounded to nearest even. */
export type SimdTarget = { readonly values: Float32Array } | { readonly words: Uint16Array; readonly dtype: Half };

interface Exports {
  readonly memory: WebAssembly.Memory;
  decode_bf16(src: number, dst: number, n: number): void;
  decode_f16(src: number, dst: number, n: number): void;
  accumulate_f32(x: number, w: number, dst: number, n: number, add: number): void;
  accumulate_bf16(x: number, w: number, dst: number, n: number, add: number): void;
  subtract(a: number, b: number, dst: number, n: number): void;
  encode_bf16(src: number, dst: number, n: number): void;
  encode_f16(src: number, dst: number, n: number): void;
  ties_pair(
    d0: number,
    d1: number,
    base: number,
    out: number,
    n: number,
    w0: number,
    w1: number,
    lambda: number,
    s0: number,
    s1: number,
    s2: number,
    s3: number,
    multiply: number,
  ): void;
  count_high(src: number, n: number, hist: number, stride: number): void;
  count_window(src: number, n: number, first: number, count: number, low: number, trash: number, totals: number): void;
  fold_copies(at: number, copies: number, stride: number, n: number): void;
  count_eq(src: number, n: number, v: number): number;
  mask_band(src: number, n: number, lo: number, hi: number, loEq: number, hiEq: number): void;
}

/** TIES's weights, λ and the disjoint mean's divisor per agreement (as magnitude-kernels.ts). */
export interface TiesScalars {
  readonly w0: number;
  readonly w1: number;
  /** Divisor (or reciprocal, with `multiply`) for none, the first, the second, both agreeing. */
  readonly scales: ArrayLike<number>;
  readonly multiply: boolean;
  readonly lambda: number;
}

/** TIES for two models: the trimmed task vectors and θ₀. */
export interface TiesPairArgs extends TiesScalars {
  readonly d0: Float32Array;
  readonly d1: Float32Array;
  readonly base: Float32Array;
}

/** TIES of two models from their inputs (tiesPairFrom): the inputs in place of the task vectors. */
export interface TiesFromArgs extends TiesScalars {
  readonly x0: SimdOperand;
  readonly x1: SimdOperand;
  readonly base: SimdOperand;
}

/** An operand counted by countDeltas: its window of high buckets and the module's window it counts into. */
export interface WindowedOperand {
  readonly x: SimdOperand;
  readonly first: number;
  readonly count: number;
  readonly slot: 0 | 1;
}

/** A window's counts: the low bits of the |δ| inside it, and how many lie below it, above it, or are NaN. */
export interface WindowCounts {
  readonly low: Uint32Array;
  readonly below: number;
  readonly above: number;
  readonly nan: number;
}

/** Elements per block: 8 KiB of words and 16 KiB per f32 region (two 64 KiB pages in all). */
const BLOCK = 4096;
/** Byte offsets of the regions in the module's page. */
const WORDS_IN = 0;
const F32_A = 8192;
const F32_B = 24576;
const ACC = 40960;
const WORDS_OUT = 57344;
const OUT32 = 65536;
/**
 * The selection's histograms (magnitude-select.ts): top-16-bit counts in 8 copies that the kernels
 * fold into the first (a slot past the buckets takes NaNs); two windows of low-15-bit counts (one per
 * model of a pair), each with its totals outside (below, above, NaN) and 64 slots the rest bump.
 */
const COPIES = 8;
const HIGH = 1 << 16;
const LOW = 1 << 15;
/** High buckets a window may span (magnitude-cuts.ts counts at most 5). */
export const MAX_WINDOW = 5;
const HIST_AT = 131072;
const HIST_STRIDE = 4 * (HIGH + 16);
const WINDOW_AT = HIST_AT + COPIES * HIST_STRIDE;
const WINDOW_BYTES = 4 * MAX_WINDOW * LOW;
const TRASH_AT = WINDOW_AT + 2 * WINDOW_BYTES;
const TOTALS_AT = TRASH_AT + 256;

export class SimdKernels {
  private readonly u16: Uint16Array;
  private readonly f32: Float32Array;
  private readonly i32: Int32Array;
  private readonly u32: Uint32Array;

  constructor(private readonly k: Exports) {
    this.u16 = new Uint16Array(k.memory.buffer);
    this.f32 = new Float32Array(k.memory.buffer);
    this.i32 = new Int32Array(k.memory.buffer);
    this.u32 = new Uint32Array(k.memory.buffer);
  }

  /** out = Σ_t f32(w_t · x_t) over one or more operands, summed in order, as f32 values or rounded into 16-bit words. */
  weightedSum(xs: readonly SimdOperand[], ws: readonly number[], out: SimdTarget): void {
    const n = 'values' in out ? out.values.length : out.words.length;
    for (let s = 0; s < n; s += BLOCK) {
      const m = Math.min(BLOCK, n - s);
      const p = (m + 3) & ~3;
      for (let t = 0; t < xs.length; t++) {
        const x = xs[t]!;
        const add = t === 0 ? 0 : 1;
        if ('words' in x && x.dtype === 'BF16') {
          // bf16 is decoded inside the accumulation; f16 and f32 go through F32_A.
          this.u16.set(x.words.subarray(s, s + m), WORDS_IN / 2);
          this.k.accumulate_bf16(WORDS_IN, ws[t]!, ACC, p, add);
        } else {
          this.blockIn(x, s, m, p, F32_A);
          this.k.accumulate_f32(F32_A, ws[t]!, ACC, p, add);
        }
      }
      this.blockOut(out, s, m, p);
    }
  }

  /**
   * out = a − b (a task vector), each operand in storage form or f32; `bValues` also gets b's f32
   * values; `hist` also gets out's |x| bits counted by their top 16 bits (added to its counts).
   */
  subtract(a: SimdOperand, b: SimdOperand, out: Float32Array, bValues?: Float32Array, hist?: Uint32Array): void {
    for (let s = 0; s < out.length; s += BLOCK) {
      const m = Math.min(BLOCK, out.length - s);
      const p = (m + 3) & ~3;
      this.blockIn(a, s, m, p, F32_A);
      this.blockIn(b, s, m, p, F32_B);
      this.k.subtract(F32_A, F32_B, ACC, p);
      if (hist) this.k.count_high(ACC, m, HIST_AT, HIST_STRIDE);
      out.set(this.f32.subarray(ACC / 4, ACC / 4 + m), s);
      bValues?.set(this.f32.subarray(F32_B / 4, F32_B / 4 + m), s);
    }
    if (hist) this.drain(HIST_AT, HIST_STRIDE, HIGH, hist);
  }

  /** |x| bits (f32 patterns) counted by their top 16 bits into hist (magnitude-select.ts's countHigh). */
  countHigh(bits: Int32Array, hist: Uint32Array): void {
    for (let s = 0; s < bits.length; s += BLOCK) {
      const m = Math.min(BLOCK, bits.length - s);
      this.i32.set(bits.subarray(s, s + m), F32_A / 4);
      this.k.count_high(F32_A, m, HIST_AT, HIST_STRIDE);
    }
    this.drain(HIST_AT, HIST_STRIDE, HIGH, hist);
  }

  /** Low 15 bits of the |x| whose top 16 bits are in [first, first + count), at (bucket − first) · 2^15 + low in `low` (magnitude-cuts.ts's countWindow). */
  countWindow(bits: Int32Array, first: number, count: number, low: Uint32Array): void {
    if (count > MAX_WINDOW) throw new RangeError(`a window of ${count} buckets (at most ${MAX_WINDOW})`);
    for (let s = 0; s < bits.length; s += BLOCK) {
      const m = Math.min(BLOCK, bits.length - s);
      this.i32.set(bits.subarray(s, s + m), F32_A / 4);
      this.countBlock(m, first, count, 0);
    }
    const counted = this.window(0, count).low;
    for (let i = 0; i < counted.length; i++) low[i]! += counted[i]!;
    this.clearWindow(0, count);
  }

  /**
   * Task vectors x − base counted for the selection without keeping them: block by block, θ₀ decoded
   * once, each x decoded and subtracted, the low 15 bits of each |δ| whose top 16 are in its window
   * [first, first + count) counted into window `slot` (see `window`), and every |δ| into `hist` by
   * its top 16 bits (as countHigh) when given (with one operand). Counts add up over calls until clearWindow.
   */
  countDeltas(base: SimdOperand, xs: readonly WindowedOperand[], hist?: Uint32Array): void {
    if (xs.some((x) => x.count > MAX_WINDOW)) throw new RangeError(`a window of more than ${MAX_WINDOW} buckets`);
    const n = 'values' in base ? base.values.length : base.words.length;
    for (let s = 0; s < n; s += BLOCK) {
      const m = Math.min(BLOCK, n - s);
      const p = (m + 3) & ~3;
      this.blockIn(base, s, m, p, ACC);
      for (const { x, first, count, slot } of xs) {
        this.blockIn(x, s, m, p, F32_A);
        this.k.subtract(F32_A, ACC, F32_A, p);
        if (hist) this.k.count_high(F32_A, m, HIST_AT, HIST_STRIDE);
        this.countBlock(m, first, count, slot);
      }
    }
    if (hist) this.drain(HIST_AT, HIST_STRIDE, HIGH, hist);
  }

  /** The window count of the m values at F32_A into window `slot` (the lanes padding them to 4 are not counted). */
  private countBlock(m: number, first: number, count: number, slot: 0 | 1): void {
    const p = (m + 3) & ~3;
    if (p > m) this.i32.fill(-1, F32_A / 4 + m, F32_A / 4 + p); // NaN patterns
    const totals = TOTALS_AT + 16 * slot;
    this.k.count_window(F32_A, p, first, count, WINDOW_AT + slot * WINDOW_BYTES, TRASH_AT, totals);
    this.i32[totals / 4 + 2]! -= p - m; // the pad lanes, counted as NaNs
  }

  /** A window's counts (views into the module, valid until it is cleared): low bits inside, and the totals outside. */
  window(slot: 0 | 1, count: number): WindowCounts {
    const at = WINDOW_AT + slot * WINDOW_BYTES;
    const totals = this.u32.subarray(TOTALS_AT / 4 + 4 * slot, TOTALS_AT / 4 + 4 * slot + 3);
    return {
      low: this.u32.subarray(at / 4, at / 4 + count * LOW),
      below: totals[0]!,
      above: totals[1]!,
      nan: totals[2]!,
    };
  }

  /** Zeroes a window's first `count` buckets and its totals. */
  clearWindow(slot: 0 | 1, count: number): void {
    this.window(slot, count).low.fill(0);
    this.u32.fill(0, TOTALS_AT / 4 + 4 * slot, TOTALS_AT / 4 + 4 * slot + 3);
  }

  /** Adds a histogram's copies (its first `slots`) into `into`, and clears them (with the slots past them). */
  private drain(at: number, stride: number, slots: number, into: Uint32Array): void {
    const n = slots + 4;
    this.k.fold_copies(at, COPIES, stride, n);
    const counted = this.u32.subarray(at / 4, at / 4 + n);
    for (let i = 0; i < slots; i++) into[i]! += counted[i]!;
    counted.fill(0);
  }

  /**
   * TIES of two models from their inputs in storage form (or f32): per block, δ_t = x_t − base,
   * each trimmed to its band, merged as tiesPair, and written to `out` (16-bit words rounded to
   * nearest even, or f32). No task vector is kept between blocks.
   */
  tiesPairFrom(a: TiesFromArgs, bands: readonly (BandState | undefined)[], out: SimdTarget): void {
    const n = 'values' in out ? out.values.length : out.words.length;
    for (let s = 0; s < n; s += BLOCK) {
      const m = Math.min(BLOCK, n - s);
      const p = (m + 3) & ~3;
      this.blockIn(a.base, s, m, p, ACC);
      this.blockIn(a.x0, s, m, p, F32_A);
      this.k.subtract(F32_A, ACC, F32_A, p);
      this.blockIn(a.x1, s, m, p, F32_B);
      this.k.subtract(F32_B, ACC, F32_B, p);
      this.tiesBlock(a, m, p, bands);
      this.blockOut(out, s, m, p, OUT32);
    }
  }

  /**
   * out[i] for i in [from, to) of TIES's merge of two task vectors (combineScaled's arithmetic),
   * each trimmed to its band first where one is given (maskBand's trim; d0, d1 are left as they are).
   */
  tiesPair(
    a: TiesPairArgs,
    out: Float32Array,
    from: number,
    to: number,
    bands?: readonly (BandState | undefined)[],
  ): void {
    for (let s = from; s < to; s += BLOCK) {
      const m = Math.min(BLOCK, to - s);
      this.f32.set(a.d0.subarray(s, s + m), F32_A / 4);
      this.f32.set(a.d1.subarray(s, s + m), F32_B / 4);
      this.f32.set(a.base.subarray(s, s + m), ACC / 4);
      this.tiesBlock(a, m, (m + 3) & ~3, bands);
      out.set(this.f32.subarray(OUT32 / 4, OUT32 / 4 + m), s);
    }
  }

  /** TIES of the block's task vectors at F32_A and F32_B, each trimmed to its band, onto θ₀ at ACC: into OUT32. */
  private tiesBlock(a: TiesScalars, m: number, p: number, bands: readonly (BandState | undefined)[] = []): void {
    const sc = a.scales;
    this.trim(F32_A, m, p, bands[0]);
    this.trim(F32_B, m, p, bands[1]);
    this.k.ties_pair(F32_A, F32_B, ACC, OUT32, p, a.w0, a.w1, a.lambda, sc[0]!, sc[1]!, sc[2]!, sc[3]!, +a.multiply);
  }

  /** A block's trim in place: whole-block ties in SIMD, a block where a bound's ties are split element by element. */
  private trim(region: number, m: number, p: number, band: BandState | undefined): void {
    if (!band) return;
    const at = region / 4;
    if (p > m) this.i32.fill(-1, at + m, at + p); // pad lanes: a NaN pattern, never equal to a bound
    const ties = blockTies(band, (v) => this.k.count_eq(region, p, v));
    if (ties) this.k.mask_band(region, p, band.lo, band.hi, +ties.keepLo, +ties.dropHi);
    else maskBand(this.i32, band, at, at + m);
  }

  /** f32 values of 16-bit words, bit for bit. */
  decode(words: Uint16Array, dtype: Half, out: Float32Array): void {
    for (let s = 0; s < out.length; s += BLOCK) {
      const m = Math.min(BLOCK, out.length - s);
      this.blockIn({ words, dtype }, s, m, (m + 3) & ~3, ACC);
      out.set(this.f32.subarray(ACC / 4, ACC / 4 + m), s);
    }
  }

  /** 16-bit words of f32 values (round to nearest even; NaN stays NaN). */
  encode(values: Float32Array, dtype: Half, out: Uint16Array): void {
    for (let s = 0; s < values.length; s += BLOCK) {
      const m = Math.min(BLOCK, values.length - s);
      const p = (m + 3) & ~3;
      this.f32.set(values.subarray(s, s + m), ACC / 4);
      this.blockOut({ words: out, dtype }, s, m, p);
    }
  }

  /** Copies operand x's block [s, s + m) into the module as f32 at `region` (decoding words). */
  private blockIn(x: SimdOperand, s: number, m: number, p: number, region: number): void {
    if ('values' in x) return this.f32.set(x.values.subarray(s, s + m), region / 4);
    this.u16.set(x.words.subarray(s, s + m), WORDS_IN / 2);
    if (x.dtype === 'BF16') this.k.decode_bf16(WORDS_IN, region, p);
    else this.k.decode_f16(WORDS_IN, region, p);
  }

  /** Copies the first m elements of `region` (the accumulator by default) out at s, encoded when the target is 16-bit. */
  private blockOut(out: SimdTarget, s: number, m: number, p: number, region = ACC): void {
    if ('values' in out) return out.values.set(this.f32.subarray(region / 4, region / 4 + m), s);
    if (out.dtype === 'BF16') this.k.encode_bf16(region, WORDS_OUT, p);
    else this.k.encode_f16(region, WORDS_OUT, p);
    out.words.set(this.u16.subarray(WORDS_OUT / 2, WORDS_OUT / 2 + m), s);
  }
}

let loaded: SimdKernels | null | undefined;

/** This thread's kernels, compiled on first use; undefined where wasm SIMD is unavailable. */
export function simdKernels(): SimdKernels | undefined {
  if (loaded === undefined) loaded = compile();
  return loaded ?? undefined;
}

function compile(): SimdKernels | null {
  try {
    const bytes = base64Bytes(MERGE_KERNELS_WASM);
    if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return null;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    return new SimdKernels(instance.exports as unknown as Exports);
  } catch {
    return null; // e.g. a page whose content security policy forbids wasm compilation
  }
}

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}
