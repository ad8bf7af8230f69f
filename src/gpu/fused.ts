/**
 * Kernels over 16-bit storage words (packed tensors, gpu-tensor.ts): decode to f32, encode from
 * f32 (shaders/dtype.wgsl), and the weighted sum over 16-bit storage words (shaders/weighted-sum16.wgsl): task arithmetic's one
 * pass, out = Σ c_t x_t, read from the packed inputs without decoded f32 copies, and written as f32
 * or, when the sum goes straight to `store`, narrowed to f16/bf16 in the same kernel. The arithmetic
 * is weighted-sum.wgsl's, in the same order, so the bits equal decode → weighted-sum → encode.
 */
import { fourInputs } from './chained';
import type { GpuOp } from './op';

/** The 16-bit storage dtypes a tensor stays packed in. */
export type Dtype16 = 'F16' | 'BF16';

/** Most inputs one fused sum takes (one dispatch: x0..x3). */
export const FUSED_MAX_INPUTS = 4;

/** A weighted sum of 16-bit inputs (some may be f32, e.g. TIES's θ₀ + λ·merged), not computed yet. */
export interface PackedSum {
  readonly inputs: readonly { readonly buffer: GPUBuffer; readonly dtype: Dtype16 | 'F32' }[];
  readonly ws: readonly number[];
}

/** Encodes `sum` over n elements into `out`: [n] f32, or [ceil(n/2)] u32 of `outDtype` words. */
export function encodePackedSum(op: GpuOp, sum: PackedSum, n: number, out: GPUBuffer, outDtype?: Dtype16): void {
  const { inputs, ws } = sum;
  const mask = (dtype: Dtype16 | 'F32') => inputs.reduce((m, x, t) => (x.dtype === dtype ? m | (1 << t) : m), 0);
  const words = fourInputs(inputs.map((x) => x.buffer));
  const width = (t: number) => ((inputs[t] ?? inputs[0]!).dtype === 'F32' ? 4 : 2);
  op.elementwise('weighted-sum16', {
    n,
    entry: outDtype ? 'main16' : 'main',
    constants: { K: inputs.length, BF16_IN: mask('BF16'), F32_IN: mask('F32'), BF16_OUT: outDtype === 'BF16' },
    uniforms: { w: ws },
    bind: {
      x0: { buffer: words.x0, bytesPerElement: width(0) },
      x1: { buffer: words.x1, bytesPerElement: width(1) },
      x2: { buffer: words.x2, bytesPerElement: width(2) },
      x3: { buffer: words.x3, bytesPerElement: width(3) },
      out: { buffer: out, bytesPerElement: outDtype ? 2 : 4 },
    },
  });
}

/** Decodes [ceil(n/2)] u32 of `dtype` words into [n] f32 `out` (dtype.wgsl load16). */
export function encodeDecode16(op: GpuOp, words: GPUBuffer, n: number, dtype: Dtype16, out: GPUBuffer): void {
  op.elementwise('dtype', {
    n,
    entry: 'load16',
    constants: { BF16: dtype === 'BF16' },
    bind: { src: { buffer: words, bytesPerElement: 2 }, dst: out },
  });
}

/** Narrows [n] f32 `values` into [ceil(n/2)] u32 of `dtype` words, round-to-nearest-even (dtype.wgsl store16). */
export function encodeEncode16(op: GpuOp, values: GPUBuffer, n: number, dtype: Dtype16, out: GPUBuffer): void {
  op.elementwise('dtype', {
    n,
    entry: 'store16',
    constants: { BF16: dtype === 'BF16' },
    bind: { src: values, dst: { buffer: out, bytesPerElement: 2 } },
  });
}
