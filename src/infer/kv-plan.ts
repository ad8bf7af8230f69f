/**
 * The KV-cache term of the memory plan (./memory-plan.ts): the dtype a plan counts (the one asked
 * for, else the weight format's default from ./weight-format.ts: f32 with f32 weights, f16 with f16
 * and q4 weights) and the cache's bytes at that dtype (4 or 2 bytes per element).
 */
import { type KvCacheDtype, type WeightFormat, defaultKvCache } from './weight-format';

export interface KvTerm {
  /** Keys and values of every layer at the full budget, once. */
  readonly bytes: number;
  /** One layer's key (or value) tensor. */
  readonly perLayer: { readonly name: string; readonly bytes: number };
}

export function planKvDtype(format: WeightFormat, asked: KvCacheDtype | undefined): KvCacheDtype {
  return asked ?? defaultKvCache(format);
}

export const kvElementBytes = (dtype: KvCacheDtype): 2 | 4 => (dtype === 'f16' ? 2 : 4);

export function kvCacheTerm(
  m: { readonly numLayers: number; readonly numKvHeads: number; readonly headDim: number },
  batch: number,
  tokens: number,
  dtype: KvCacheDtype,
): KvTerm {
  const perLayer = batch * m.numKvHeads * m.headDim * tokens * kvElementBytes(dtype);
  return { bytes: 2 * m.numLayers * perLayer, perLayer: { name: 'present.*.key', bytes: perLayer } };
}
