/**
 * The 4-bit packer on the GPU: a [N, K] weight into onnxruntime's MatMulNBits blocks
 * (shaders/q4-pack.wgsl), byte for byte what packQ4 (src/core/kernels/q4-pack.ts) gives, read back
 * as packed bytes and f32 scales. The weight is either an f32 tensor already on the GPU or the raw
 * f32/f16/bf16 bytes of a checkpoint tensor; 16-bit values are decoded in the shader, so no f32
 * copy of them is made anywhere.
 * Raw bytes go up in row chunks of at most one binding window, so the GPU holds one chunk at a
 * time; a GPU tensor is packed in one operation, in binding windows (GpuOp.elementwise).
 */
import { type DType, itemSize } from '../core/dtype';
import { throwIfAborted } from '../core/errors';
import { Q4_BLOCK_SIZES, type Q4BlockSize, type Q4Packed } from '../core/kernels/q4-pack';
import type { GpuContext } from './context';
import { GpuError } from './device';

/** A weight to pack: an f32 tensor on this context's device (a GpuTensor), or raw tensor bytes. */
export type Q4Source =
  { readonly buffer: GPUBuffer; readonly length: number } | { readonly bytes: Uint8Array; readonly dtype: DType };

export interface Q4PackOptions {
  /** The tensor's name, for errors. */
  readonly tensor?: string;
  /** Checked between chunks. */
  readonly signal?: AbortSignal;
  /** Largest raw-bytes chunk uploaded at once (default: one binding window, at most 64 MiB). */
  readonly maxChunkBytes?: number;
}

/** The shader's SOURCE override for each input dtype. */
const SOURCE: Readonly<Record<DType, number>> = { F32: 0, F16: 1, BF16: 2 };

const DEFAULT_CHUNK_BYTES = 64 * 2 ** 20;

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

/** The [n, k] weight `source` in 4-bit blocks of `blockSize` along k, packed on the GPU. */
export async function packQ4OnGpu(
  gpu: GpuContext,
  source: Q4Source,
  n: number,
  k: number,
  blockSize: Q4BlockSize,
  opts: Q4PackOptions = {},
): Promise<Q4Packed> {
  const where = { tensor: opts.tensor };
  const name = opts.tensor ? `${opts.tensor}: ` : '';
  if (!(Q4_BLOCK_SIZES as readonly number[]).includes(blockSize))
    throw new GpuError(`${name}4-bit block size ${blockSize} is not one of ${Q4_BLOCK_SIZES.join(', ')}`, where);
  if (!Number.isInteger(n) || !Number.isInteger(k) || n < 0 || k < 0)
    throw new GpuError(`${name}[${n}, ${k}] is not a weight shape`, where);
  if (k % blockSize !== 0)
    throw new GpuError(
      `${name}the input dimension K = ${k} is not a multiple of the 4-bit block size ${blockSize}`,
      where,
    );
  const elements = n * k;
  const given = 'bytes' in source ? source.bytes.byteLength / itemSize(source.dtype) : source.length;
  if (given !== elements)
    throw new GpuError(`${name}${given} values for a [${n}, ${k}] weight (${elements} expected)`, where);
  const out = { packed: new Uint8Array(elements / 2), scales: new Float32Array(elements / blockSize) };
  gpu.check();
  if (elements === 0) return out;
  if (!('bytes' in source)) {
    await packRange(gpu, source.buffer, SOURCE.F32, 0, elements, blockSize, out);
    return out;
  }
  const bytesPerRow = k * itemSize(source.dtype);
  const cap = Math.min(opts.maxChunkBytes ?? DEFAULT_CHUNK_BYTES, gpu.maxBindingBytes);
  const rowsPerChunk = Math.max(1, Math.floor(cap / bytesPerRow));
  for (let row = 0; row < n; row += rowsPerChunk) {
    throwIfAborted(opts.signal, 'quantize');
    const rows = Math.min(rowsPerChunk, n - row);
    const chunk = source.bytes.subarray(row * bytesPerRow, (row + rows) * bytesPerRow);
    const staging = gpu.storage.acquire(roundUp(chunk.byteLength, 16), 'q4-source');
    try {
      gpu.upload(staging, chunk);
      await packRange(gpu, staging, SOURCE[source.dtype], row * k, rows * k, blockSize, out);
    } finally {
      gpu.storage.release(staging); // after submit: queue order makes reuse safe
    }
  }
  return out;
}

/**
 * Packs `count` elements at the start of `src` into `out` from element `first` on: one operation,
 * whose packed bytes and scales come back through one readback buffer.
 */
async function packRange(
  gpu: GpuContext,
  src: GPUBuffer,
  source: number,
  first: number,
  count: number,
  blockSize: Q4BlockSize,
  out: Q4Packed,
): Promise<void> {
  const packedBytes = count / 2;
  const scaleBytes = (count / blockSize) * 4;
  const op = gpu.begin('q4-pack');
  const packed = op.temp(roundUp(packedBytes, 16), 'q4-packed');
  const scales = op.temp(roundUp(scaleBytes, 16), 'q4-scales');
  op.elementwise('q4-pack', {
    n: count,
    constants: { BLOCK: blockSize, SOURCE: source },
    bind: {
      src: { buffer: src, bytesPerElement: source === SOURCE.F32 ? 4 : 2 },
      packed: { buffer: packed, bytesPerElement: 1 / 2 },
      scales: { buffer: scales, bytesPerElement: 4 / blockSize },
    },
  });
  const result = op.temp(packedBytes + scaleBytes, 'q4-result');
  op.enc.copyBufferToBuffer(packed, 0, result, 0, packedBytes);
  op.enc.copyBufferToBuffer(scales, 0, result, packedBytes, scaleBytes);
  const bytes = await op.readBack(result, packedBytes + scaleBytes);
  out.packed.set(bytes.subarray(0, packedBytes), first / 2);
  new Uint8Array(out.scales.buffer).set(bytes.subarray(packedBytes), (first / blockSize) * 4);
}
