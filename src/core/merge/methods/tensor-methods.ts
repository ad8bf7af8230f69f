/**
 * The `tensor` family: mergekit methods with a computation of their own over whole tensors (not
 * the task-vector core), dispatched by name. Each lives in its own file.
 */
import type { TensorJob } from '../tensor-job';
import type { MethodSpec } from './registry';
import { mergeArceeFusion } from './arcee-fusion';
import { mergeKarcher } from './karcher';
import { mergeModelStock } from './model-stock';
import { mergeMultislerp } from './multislerp';
import { mergeNearswap } from './nearswap';
import { mergePassthrough } from './passthrough';
import { mergeRam } from './ram';
import { mergeNuslerp } from './nuslerp';
import { mergeSce } from './sce';

/** The recipe names a base_model: it is input 0 (the planner's `has_base` option). */
const hasBase = (job: TensorJob<unknown>) => job.global.options?.has_base === true;

export function mergeTensorMethod<T>(job: TensorJob<T>, spec: MethodSpec): Promise<void> {
  switch (spec.name) {
    case 'sce':
      return mergeSce(job);
    case 'model_stock':
      return mergeModelStock(job);
    case 'nuslerp':
      return mergeNuslerp(job, hasBase(job));
    case 'multislerp':
      return mergeMultislerp(job, hasBase(job));
    case 'karcher':
      return mergeKarcher(job);
    case 'nearswap':
      return mergeNearswap(job);
    case 'arcee_fusion':
      return mergeArceeFusion(job);
    case 'passthrough':
      return mergePassthrough(job);
    case 'ram':
    case 'ramplus_tl':
      return mergeRam(job, spec.name === 'ramplus_tl');
    default:
      throw new Error(`${spec.name} is not a tensor-family method`);
  }
}
