/**
 * The `tensor` family: mergekit methods with a computation of their own over whole tensors (not
 * the task-vector core), dispatched by name. Each lives in its own file.
 */
import type { TensorJob } from '../tensor-job';
import type { MethodSpec } from './registry';
import { mergeModelStock } from './model-stock';
import { mergeNuslerp } from './nuslerp';
import { mergeSce } from './sce';

export function mergeTensorMethod<T>(job: TensorJob<T>, spec: MethodSpec): Promise<void> {
  switch (spec.name) {
    case 'sce':
      return mergeSce(job);
    case 'model_stock':
      return mergeModelStock(job);
    case 'nuslerp':
      return mergeNuslerp(job, job.inputs.length === 3);
    default:
      throw new Error(`${spec.name} is not a tensor-family method`);
  }
}
