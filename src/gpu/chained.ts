/**
 * Kernels over any number of inputs, four per dispatch (x0..x3), chained in input order so the sums
 * equal the CPU twins' exactly: weighted-sum carries a running sum, disjoint-mean a (sum, divisor)
 * state per element. Each function encodes all of its dispatches into one GpuOp.
 */
import type { GpuOp } from './op';

/** Binds up to four inputs as x0..x3 (slots past the last input repeat the first; kernels skip them). */
export function fourInputs(xs: readonly GPUBuffer[]) {
  const at = (i: number) => xs[i] ?? xs[0]!;
  return { x0: at(0), x1: at(1), x2: at(2), x3: at(3) };
}

/** The input groups of a chain: [first index, inputs, last group?]. */
function groups<T>(xs: readonly T[]): [number, T[], boolean][] {
  const out: [number, T[], boolean][] = [];
  for (let g = 0; g < xs.length; g += 4) out.push([g, xs.slice(g, g + 4), g + 4 >= xs.length]);
  return out;
}

/** out = Σ w_t x_t, in input order. xs: at least one [n] f32 buffer; out: [n]. */
export function encodeWeightedSum(
  op: GpuOp,
  xs: readonly GPUBuffer[],
  ws: readonly number[],
  n: number,
  out: GPUBuffer,
) {
  let acc: GPUBuffer | undefined;
  for (const [first, part, last] of groups(xs)) {
    const dst = last ? out : op.temp(n * 4, 'partial-sum');
    op.elementwise('weighted-sum', {
      n,
      constants: { K: part.length, ACC: acc !== undefined },
      uniforms: { w: ws.slice(first, first + part.length) },
      bind: { ...fourInputs(part), acc: acc ?? part[0]!, out: dst },
    });
    acc = dst;
  }
}

/**
 * out = the TIES disjoint mean of xs under `sign` (normalised by the agreeing weights when
 * `normalize`). xs: at least one [n] f32 buffer; sign: [n] ±1; out: [n]. Between groups the state
 * is [2n] f32 (interleaved sum and divisor).
 */
export function encodeDisjointMean(
  op: GpuOp,
  xs: readonly GPUBuffer[],
  ws: readonly number[],
  sign: GPUBuffer,
  normalize: boolean,
  n: number,
  out: GPUBuffer,
) {
  let state: GPUBuffer | undefined;
  for (const [first, part, last] of groups(xs)) {
    const dst = last ? out : op.temp(n * 8, 'disjoint-state');
    op.elementwise('disjoint-mean', {
      n,
      constants: { K: part.length, ACC: state !== undefined, FINAL: last, NORMALIZE: normalize },
      uniforms: { w: ws.slice(first, first + part.length) },
      bind: {
        ...fourInputs(part),
        sgn: sign,
        state: state ? { buffer: state, bytesPerElement: 8 } : { buffer: sign, size: 16 }, // unread without ACC
        out: last ? dst : { buffer: dst, bytesPerElement: 8 },
      },
    });
    state = dst;
  }
}
