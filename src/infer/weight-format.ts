/**
 * Weight formats for inference: how the generated graph stores the checkpoint's weights.
 *   f32  every weight read in place from the shards (f16/bf16 cast to f32 by ORT at session creation)
 *   f16  weights as f16 initializers, cast to f32 in the graph (f32 compute)
 *   q4   linear projections as com.microsoft.MatMulNBits (4-bit blocks along K, ../core/kernels/q4-pack.ts),
 *        the embedding in f16, norms and biases in f32
 */
import { Q4_BLOCK_SIZES, type Q4BlockSize } from '../core/kernels/q4-pack';
import { InferError } from './errors';

export const WEIGHT_FORMATS = ['f32', 'f16', 'q4'] as const;
export type WeightFormat = (typeof WEIGHT_FORMATS)[number];

export interface WeightOptions {
  /** Default 'f32'. */
  weights?: WeightFormat;
  /** q4 block size along the input dimension; default 32. */
  blockSize?: Q4BlockSize;
}

export const DEFAULT_BLOCK_SIZE: Q4BlockSize = 32;

export function isWeightFormat(s: string): s is WeightFormat {
  return (WEIGHT_FORMATS as readonly string[]).includes(s);
}

export function isQ4BlockSize(n: number): n is Q4BlockSize {
  return (Q4_BLOCK_SIZES as readonly number[]).includes(n);
}

/** The options as the graph builder reads them, checked (a bad value from a worker message or a test). */
export function resolveWeightOptions(o: WeightOptions): { format: WeightFormat; blockSize: Q4BlockSize } {
  const format = o.weights ?? 'f32';
  const blockSize = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!isWeightFormat(format))
    throw new InferError('bad-options', `weights must be ${WEIGHT_FORMATS.join(', ')} (got '${String(format)}')`, {
      field: 'weights',
    });
  if (!isQ4BlockSize(blockSize))
    throw new InferError('bad-options', `block size must be ${Q4_BLOCK_SIZES.join(', ')} (got ${String(blockSize)})`, {
      field: 'blockSize',
    });
  return { format, blockSize };
}
