/**
 * What runs in f16, decided once the EP is known (./runtime.ts chooseEp) and before the graph is
 * built or any weight is read:
 *   compute  f16 (the linear projections of f16 weights as f16 MatMuls) needs the WebGPU EP on an
 *            adapter with `shader-f16`; 'auto' takes it there and f32 everywhere else; forcing it
 *            elsewhere, or with f32 / q4 weights, is an InferError (field 'compute')
 *   kvCache  f16 tensors on wasm and on WebGPU with `shader-f16`; a WebGPU adapter without the
 *            feature keeps the default cache in f32, and refuses an explicit f16 one (field 'kvCache')
 */
import { InferError } from './errors';
import type { EpDecision } from './runtime';
import { type ComputeDtype, type KvCacheDtype, type WeightOptions, resolveWeightOptions } from './weight-format';

export interface Precision {
  readonly compute: ComputeDtype;
  readonly kvCache: KvCacheDtype;
}

export const SHADER_F16 = 'shader-f16';

/** Where the EP stands on f16 shaders, in words for an error. */
function missingF16(decision: EpDecision): string | undefined {
  if (decision.ep === 'wasm') return `the wasm EP has no '${SHADER_F16}' (f16 compute runs on WebGPU only)`;
  const probe = decision.probe;
  if (!probe?.ok || !probe.shaderF16)
    return `the WebGPU adapter${probe?.ok ? ` (${probe.adapter})` : ''} does not offer the '${SHADER_F16}' feature`;
  return undefined;
}

export function resolvePrecision(opts: WeightOptions, decision: EpDecision): Precision {
  const { format, compute: choice, kvCache } = resolveWeightOptions(opts);
  const missing = missingF16(decision);
  if (choice === 'f16') {
    if (format !== 'f16')
      throw new InferError('bad-options', `f16 compute runs f16 weights; use weights f16 (got ${format})`, {
        field: 'compute',
      });
    if (missing)
      throw new InferError('unsupported-feature', `f16 compute needs '${SHADER_F16}': ${missing}`, {
        field: 'compute',
      });
  }
  const compute: ComputeDtype = choice === 'f16' || (choice === 'auto' && format === 'f16' && !missing) ? 'f16' : 'f32';
  if (kvCache === 'f16' && decision.ep === 'webgpu' && missing) {
    if (opts.kvCache === 'f16')
      throw new InferError('unsupported-feature', `an f16 KV cache on WebGPU needs '${SHADER_F16}': ${missing}`, {
        field: 'kvCache',
      });
    return { compute, kvCache: 'f32' };
  }
  return { compute, kvCache };
}
