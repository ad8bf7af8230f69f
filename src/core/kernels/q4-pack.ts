/**
 * 4-bit block quantization for onnxruntime's com.microsoft.MatMulNBits (bits 4, zero point 8):
 * the CPU reference (the spec) for packing a linear weight, and the inverse that tests use.
 *
 * Shape legend: a weight W is [N, K] (out × in, as in safetensors); blocks of `blockSize` (B)
 * run along K. Per block, m is the element of largest magnitude (sign kept; the first one on a
 * tie), s = m / −8, and q = clamp(round_half_even(w / s) + 8, 0, 15), so w ≈ (q − 8) · s and
 * m itself is exact (q = 0). An all-zero block has s = 0 and every q = 8.
 * Layout (checked against onnxruntime-web, ../shared/reference/q4-on-onnxruntime-web.md):
 *   packed: uint8 [N, K/B, B/2], low nibble = even element, high nibble = odd element
 *   scales: f32   [N · K/B], in (n, block) order
 * w / s is evaluated exactly: w and m are f32, so −8w/m in f64 is never rounded onto a tie.
 */

export const Q4_BLOCK_SIZES = [32, 64, 128] as const;
export type Q4BlockSize = (typeof Q4_BLOCK_SIZES)[number];

export interface Q4Packed {
  /** uint8 [N, K/B, B/2]. */
  readonly packed: Uint8Array;
  /** f32 [N · K/B]. */
  readonly scales: Float32Array;
}

/** round half to even, on values whose halves are exact (|x| ≤ 8 here). */
function roundHalfEven(x: number): number {
  const r = Math.round(x); // rounds .5 up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The 4-bit code of w in a block whose largest-magnitude element is m (m ≠ 0). */
export function q4Code(w: number, m: number): number {
  return Math.min(15, Math.max(0, roundHalfEven((-8 * w) / m) + 8));
}

// w: [n, k] f32 row-major
export function packQ4(w: Float32Array, n: number, k: number, blockSize: Q4BlockSize): Q4Packed {
  if (w.length !== n * k) throw new RangeError(`packQ4: ${w.length} values for a [${n}, ${k}] weight`);
  if (k % blockSize !== 0) throw new RangeError(`packQ4: K = ${k} is not a multiple of the block size ${blockSize}`);
  const blocks = k / blockSize;
  const packed = new Uint8Array((n * k) / 2);
  const scales = new Float32Array(n * blocks);
  for (let b = 0; b < n * blocks; b++) {
    const start = b * blockSize; // row n = ⌊b / blocks⌋ starts at n·k, and blocks tile each row
    let m = 0;
    for (let i = 0; i < blockSize; i++) if (Math.abs(w[start + i]!) > Math.abs(m)) m = w[start + i]!;
    scales[b] = m === 0 ? 0 : m / -8;
    for (let i = 0; i < blockSize; i += 2) {
      const lo = m === 0 ? 8 : q4Code(w[start + i]!, m);
      const hi = m === 0 ? 8 : q4Code(w[start + i + 1]!, m);
      packed[(start + i) / 2] = lo | (hi << 4);
    }
  }
  return { packed, scales };
}

/** The f32 weight [N, K] that MatMulNBits computes with: (q − 8) · s. */
export function unpackQ4(q: Q4Packed, n: number, k: number, blockSize: Q4BlockSize): Float32Array {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n * k; i++) {
    const byte = q.packed[i >> 1]!;
    const code = i & 1 ? byte >> 4 : byte & 15;
    out[i] = (code - 8) * q.scales[Math.floor(i / blockSize)]!;
  }
  return out;
}
