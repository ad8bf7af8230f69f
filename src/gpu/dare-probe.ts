/**
 * A fixed DARE workload whose output bytes must be identical on every backend and adapter
 * (Node/Dawn/lavapipe, the browser worker on SwiftShader, the CPU reference): deterministic input
 * values, stored in `dtype`, masked and rescaled by dareMask, stored back in `dtype`.
 * The e2e test calls it in Node and through the worker (MergeClient.dareBytes) and compares.
 */
import { seededRandom } from '../core/random';
import { type DType, encodeFromF32 } from '../core/dtype';
import { DARE_MASK } from '../core/kernels/dare-mask';
import type { TensorBackend } from '../core/merge/backend';

export interface DareProbeArgs {
  n: number;
  density: number;
  seed: number;
  stream: number;
  offset: number;
  rescale: boolean;
  dtype: DType;
}

export const DEFAULT_DARE_PROBE: DareProbeArgs = {
  n: 100_003,
  density: 0.37,
  seed: 1234,
  stream: 0x9e3779b9,
  offset: 4096,
  rescale: true,
  dtype: 'BF16',
};

/** mulberry32 values in [-scale, scale): the probe's input (and the tests' generated weights). */
export function probeValues(n: number, seed: number, scale = 1): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

export async function dareProbeBytes<T>(
  backend: TensorBackend<T>,
  args: DareProbeArgs = DEFAULT_DARE_PROBE,
): Promise<Uint8Array> {
  const x = await backend.load(encodeFromF32(probeValues(args.n, args.seed ^ 0x5bd1e995), args.dtype), args.dtype);
  const m = await backend.elementwise(DARE_MASK, [x], args);
  backend.release(x);
  const out = await backend.store(m, args.dtype);
  backend.release(m);
  return out;
}

/** SHA-256 hex of bytes (Web Crypto: Node ≥ 20 and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes.slice().buffer);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
