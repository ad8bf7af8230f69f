/**
 * `--weights-cache DIR` (`default`: $XDG_CACHE_HOME/merge-lab-weights): f16 / q4 weights derived
 * once per checkpoint content and format under DIR and reused by every later run, instead of
 * being packed again at each load.
 */
import type { PreparedWeights } from '../infer/prepared-weights';
import type { WeightOptions } from '../infer/weight-format';
import { cachedWeights, defaultCacheRoot } from '../node/weights-cache';

export const weightsCacheFlag = { 'weights-cache': { type: 'string' } } as const;

export const WEIGHTS_CACHE_USAGE = '[--weights-cache DIR|default]';

/** The load option for `modelDir` through the cache (made on first use), or none without --weights-cache. */
export async function cachedWeightsOption(
  modelDir: string,
  cacheDir: string | undefined,
  weights: WeightOptions,
  signal?: AbortSignal,
): Promise<{ prepared?: PreparedWeights }> {
  if (cacheDir === undefined) return {};
  const root = cacheDir === 'default' ? defaultCacheRoot() : cacheDir;
  const prepared = await cachedWeights(modelDir, root, { ...weights, ...(signal ? { signal } : {}) });
  return prepared ? { prepared } : {};
}
