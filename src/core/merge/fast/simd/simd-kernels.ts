/**
 * The fast CPU backend's vector kernels (merge-kernels.wat, wasm SIMD) behind a small TypeScript
 * API. Tensors stay in JS memory; each call streams them through the module's one 64 KiB page in
 * blocks of BLOCK elements (copy in, decode, weighted sum, encode, copy out), so the work stays in
 * the core's cache and the module never grows. Bit-identical to the scalar kernels (codec.ts,
 * kernels.ts), which remain the path where wasm SIMD is missing (`simdKernels()` is undefined).
 */
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
}

/** TIES for two models: the trimmed task vectors, weights, θ₀, λ, and the divisor per agreement (as magnitude-kernels.ts). */
export interface TiesPairArgs {
  readonly d0: Float32Array;
  readonly d1: Float32Array;
  readonly w0: number;
  readonly w1: number;
  /** Divisor (or reciprocal, with `multiply`) for none, the first, the second, both agreeing. */
  readonly scales: ArrayLike<number>;
  readonly multiply: boolean;
  readonly base: Float32Array;
  readonly lambda: number;
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

export class SimdKernels {
  private readonly u16: Uint16Array;
  private readonly f32: Float32Array;

  constructor(private readonly k: Exports) {
    this.u16 = new Uint16Array(k.memory.buffer);
    this.f32 = new Float32Array(k.memory.buffer);
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

  /** out = a − b (a task vector), each operand in storage form or f32; `bValues` also gets b's f32 values. */
  subtract(a: SimdOperand, b: SimdOperand, out: Float32Array, bValues?: Float32Array): void {
    for (let s = 0; s < out.length; s += BLOCK) {
      const m = Math.min(BLOCK, out.length - s);
      const p = (m + 3) & ~3;
      this.blockIn(a, s, m, p, F32_A);
      this.blockIn(b, s, m, p, F32_B);
      this.k.subtract(F32_A, F32_B, ACC, p);
      out.set(this.f32.subarray(ACC / 4, ACC / 4 + m), s);
      bValues?.set(this.f32.subarray(F32_B / 4, F32_B / 4 + m), s);
    }
  }

  /** out[i] for i in [from, to) of TIES's merge of two trimmed task vectors (combineScaled's arithmetic). */
  tiesPair(a: TiesPairArgs, out: Float32Array, from: number, to: number): void {
    const { scales: sc } = a;
    for (let s = from; s < to; s += BLOCK) {
      const m = Math.min(BLOCK, to - s);
      this.f32.set(a.d0.subarray(s, s + m), F32_A / 4);
      this.f32.set(a.d1.subarray(s, s + m), F32_B / 4);
      this.f32.set(a.base.subarray(s, s + m), ACC / 4);
      const p = (m + 3) & ~3;
      this.k.ties_pair(F32_A, F32_B, ACC, OUT32, p, a.w0, a.w1, a.lambda, sc[0]!, sc[1]!, sc[2]!, sc[3]!, +a.multiply);
      out.set(this.f32.subarray(OUT32 / 4, OUT32 / 4 + m), s);
    }
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

  /** Copies the accumulator's first m elements out at s, encoded when the target is 16-bit. */
  private blockOut(out: SimdTarget, s: number, m: number, p: number): void {
    if ('values' in out) return out.values.set(this.f32.subarray(ACC / 4, ACC / 4 + m), s);
    if (out.dtype === 'BF16') this.k.encode_bf16(ACC, WORDS_OUT, p);
    else this.k.encode_f16(ACC, WORDS_OUT, p);
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
