/**
 * The batch's KV cache kept in CPU memory by the lab, for a batched graph built with
 * `newKvOutputs` (./graph-batch.ts; wasm): each call returns only its new K/V rows, and they are
 * appended here into arrays with room to grow, [B, kvH, capacity, D] per layer, instead of ORT
 * handing back the whole grown cache as fresh arrays at every step. Rows are appended in place
 * past each sequence's length, so an older cache of the same arrays still reads its own positions;
 * the arrays are reallocated (capacity rounded up to `KV_ROOM` positions) only when a sequence
 * outgrows them.
 */
import type * as Ort from 'onnxruntime-web';
import { newKey, newValue } from './graph-batch';
import { pastKey, pastValue } from './graph';
import type { OrtModule } from './runtime';

/** Positions of room a cache's capacity is rounded up to (one reallocation every KV_ROOM decode steps). */
export const KV_ROOM = 16;

export type KvData = Float32Array | Uint16Array;

/** B sequences' KV caches: [B, kvH, P, D] per layer; row b holds `lengths[b]` positions, then padding. */
export interface BatchCache {
  readonly lengths: readonly number[];
  readonly tensors: ReadonlyMap<string, Ort.Tensor>;
}

/** `n` positions rounded up to a whole number of KV_ROOM (at least one). */
export function kvCapacity(n: number): number {
  return Math.max(1, Math.ceil(n / KV_ROOM)) * KV_ROOM;
}

/**
 * The cache after a call that appended `added[b]` positions to row b of `cache`, from the call's
 * outputs `new.{l}.key|value` ([B, kvH, S, D]). Reuses `cache`'s arrays when every row fits.
 */
export function appendNewRows(
  ort: OrtModule,
  cache: BatchCache,
  out: Readonly<Record<string, Ort.Tensor>>,
  added: readonly number[],
  layers: number,
): BatchCache {
  const lengths = cache.lengths.map((n, b) => n + added[b]!);
  const tensors = new Map<string, Ort.Tensor>();
  for (let l = 0; l < layers; l++)
    for (const [past, fresh] of [
      [pastKey(l), newKey(l)],
      [pastValue(l), newValue(l)],
    ] as const) {
      const grown = withRoom(ort, cache.tensors.get(past)!, cache.lengths, Math.max(0, ...lengths));
      appendRows(grown, out[fresh]!, cache.lengths, added);
      tensors.set(past, grown);
    }
  return { lengths, tensors };
}

/** `t` itself when it holds `needed` positions, else a copy of its rows' first `lengths[b]` positions with more room. */
function withRoom(ort: OrtModule, t: Ort.Tensor, lengths: readonly number[], needed: number): Ort.Tensor {
  const [B, kvH, P, D] = t.dims as [number, number, number, number];
  if (needed <= P) return t;
  const capacity = kvCapacity(needed);
  const data = t.data as KvData;
  const grown = new (data.constructor as new (n: number) => KvData)(B * kvH * capacity * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < kvH; h++) {
      const from = (b * kvH + h) * P * D;
      grown.set(data.subarray(from, from + lengths[b]! * D), (b * kvH + h) * capacity * D);
    }
  return new ort.Tensor(t.type as 'float32', grown as Float32Array, [B, kvH, capacity, D]);
}

/** Copies row b's `added[b]` new positions of `fresh` ([B, kvH, S, D]) into `into` after its `lengths[b]`. */
function appendRows(into: Ort.Tensor, fresh: Ort.Tensor, lengths: readonly number[], added: readonly number[]): void {
  const [B, kvH, P, D] = into.dims as [number, number, number, number];
  const S = fresh.dims[2]!;
  const src = fresh.data as KvData;
  const dst = into.data as KvData;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < kvH; h++) {
      const from = (b * kvH + h) * S * D;
      dst.set(src.subarray(from, from + added[b]! * D), ((b * kvH + h) * P + lengths[b]!) * D);
    }
}
