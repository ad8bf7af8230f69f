/**
 * The `tensor` family: mergekit methods with a computation of their own over whole tensors (not
 * the task-vector core), dispatched by name. Each lives in its own file.
 */
import type { TensorJob } from '../tensor-job';
import type { MethodSpec } from './registry';
import { mergeSce } from './sce';

export function mergeTensorMethod<T>(job: TensorJob<T>, spec: MethodSpec): Promise<void> {
  switch (spec.name) {
    case 'sce':
      return mergeSce(job);
    default:
      throw new Error(`${spec.name} is not a tensor-family method`);
  }
}
