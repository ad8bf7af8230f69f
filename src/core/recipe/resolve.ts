/** Per-tensor parameter resolution, as mergekit's `evaluate_setting` does it. */
import type { Setting } from './types';

/**
 * Position t of a tensor along the model's depth in [0, 1], as mergekit plans it: layer i of L →
 * i/(L−1) (a single layer: 1); every tensor outside the decoder layers (embeddings, the final norm,
 * lm_head) → 0, the value mergekit's planner evaluates them at.
 */
export function layerPosition(tensorName: string, numLayers: number): number {
  const m = /(?:^|\.)layers\.(\d+)\./.exec(tensorName);
  if (!m) return 0;
  return numLayers > 1 ? Number(m[1]) / (numLayers - 1) : 1;
}

/**
 * Evaluates a setting for one tensor: a scalar is itself; a number list is linearly
 * interpolated at t; a filter list takes the first entry whose filter is absent, `*`, or a
 * substring of the tensor name. Returns undefined when no filter matches.
 */
export function evaluateSetting(
  setting: Setting,
  tensorName: string,
  t: number,
): number | boolean | string | undefined {
  if (!Array.isArray(setting)) return setting;
  if (setting.length === 0) return undefined;
  if (setting.every((e) => typeof e === 'number')) {
    const list = setting as number[];
    const scaled = t * (list.length - 1);
    const i0 = Math.floor(scaled);
    const i1 = Math.min(list.length - 1, i0 + 1);
    const frac = scaled - i0;
    return (1 - frac) * list[i0]! + frac * list[i1]!;
  }
  for (const cond of setting as { filter?: string; value: Setting }[]) {
    if (cond.filter === undefined || cond.filter === '*' || tensorName.includes(cond.filter))
      return evaluateSetting(cond.value, tensorName, t);
  }
  return undefined;
}
