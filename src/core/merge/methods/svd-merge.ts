/** Dispatch for the SVD family: whole 2-D weights go to the method, everything else to its fallback. */
import type { TensorJob } from '../tensor-job';
import { mergeIsoC, mergeIsoCts } from './iso-c';
import { mergeLore } from './lore';
import { mergeLowRank } from './low-rank';
import type { MethodSpec } from './registry';
import { mergeFallback, svdContext } from './svd-common';
import type { SvdSettings } from '../tensor-job';
import { mergeTsv } from './tsv';
import { mergeTwin } from './twin';

export async function mergeSvdFamily<T>(job: TensorJob<T>, spec: MethodSpec, settings: SvdSettings): Promise<void> {
  if (settings.fallback !== undefined || job.numChunks !== 1 || job.shape.length !== 2 || job.numel === 0) {
    // Iso-C merges the mean task vector, low-rank TA with `normalize` divides by Σw: their fallbacks do too.
    const mean =
      spec.name === 'iso_c' ||
      spec.name === 'iso_cts' ||
      (spec.name === 'low_rank_task_arithmetic' && job.global.normalize);
    return mergeFallback(job, settings, { mean });
  }
  const ctx = svdContext(job, settings);
  switch (spec.name) {
    case 'tsv':
      return mergeTsv(ctx);
    case 'iso_c':
      return mergeIsoC(ctx);
    case 'iso_cts':
      return mergeIsoCts(ctx);
    case 'lore':
      return mergeLore(ctx);
    case 'twin':
      return mergeTwin(ctx);
    case 'low_rank_task_arithmetic':
      return mergeLowRank(ctx);
    default:
      throw new Error(`${spec.name} is not an SVD method`);
  }
}
