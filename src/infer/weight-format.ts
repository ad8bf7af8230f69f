/**
 * Weight formats for inference: how the generated graph stores the checkpoint's weights.
 *   f32  every weight read in place from the shards (f16/bf16 cast to f32 by ORT at session creation)
 *   f16  weights as f16 initializers, cast to f32 in the graph (f32 compute)
 *   q4   linear projections as com.microsoft.MatMulNBits (4-bit blocks along K, ../core/kernels/q4-pack.ts),
 *        the embedding in f16, norms and biases in f32
 * With them, two precision choices (resolved against the EP by ./precision.ts):
 *   kvCache  'f32' | 'f16': the dtype of past/present KV tensors; default f32 with f32 weights (so
 *            f32 outputs stay bit-identical), f16 with f16 and q4 weights
 *   compute  'auto' | 'f32' | 'f16': f16 runs the linear projections of f16 weights in f16 (WebGPU
 *            with `shader-f16` only); auto picks f16 where it can run, f32 elsewhere
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
  /** KV cache dtype; default `defaultKvCache(weights)`. */
  kvCache?: KvCacheDtype;
  /** Precision of the linear projections; default 'auto'. */
  compute?: ComputeChoice;
}

export const KV_CACHE_DTYPES = ['f32', 'f16'] as const;
export type KvCacheDtype = (typeof KV_CACHE_DTYPES)[number];
export const COMPUTE_CHOICES = ['auto', 'f32', 'f16'] as const;
export type ComputeChoice = (typeof COMPUTE_CHOICES)[number];
/** The precision a graph computes its linear projections in, once 'auto' is resolved. */
export type ComputeDtype = Exclude<ComputeChoice, 'auto'>;

/** f32 weights keep an f32 cache (bit-identical to before); f16 and q4 weights halve it. */
export function defaultKvCache(format: WeightFormat): KvCacheDtype {
  return format === 'f32' ? 'f32' : 'f16';
}

export function isKvCacheDtype(s: string): s is KvCacheDtype {
  return (KV_CACHE_DTYPES as readonly string[]).includes(s);
}

export function isComputeChoice(s: string): s is ComputeChoice {
  return (COMPUTE_CHOICES as readonly string[]).includes(s);
}

export const DEFAULT_BLOCK_SIZE: Q4BlockSize = 32;

export function isWeightFormat(s: string): s is WeightFormat {
  return (WEIGHT_FORMATS as readonly string[]).includes(s);
}

export function isQ4BlockSize(n: number): n is Q4BlockSize {
  return (Q4_BLOCK_SIZES as readonly number[]).includes(n);
}

/** The options as the graph builder reads them, checked (a bad value from a worker message or a test). */
export function resolveWeightOptions(o: WeightOptions): {
  format: WeightFormat;
  blockSize: Q4BlockSize;
  kvCache: KvCacheDtype;
  compute: ComputeChoice;
} {
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
  const kvCache = o.kvCache ?? defaultKvCache(format);
  if (!isKvCacheDtype(kvCache))
    throw new InferError('bad-options', `kvCache must be ${KV_CACHE_DTYPES.join(', ')} (got '${String(kvCache)}')`, {
      field: 'kvCache',
    });
  const compute = o.compute ?? 'auto';
  if (!isComputeChoice(compute))
    throw new InferError('bad-options', `compute must be ${COMPUTE_CHOICES.join(', ')} (got '${String(compute)}')`, {
      field: 'compute',
    });
  return { format, blockSize, kvCache, compute };
}
