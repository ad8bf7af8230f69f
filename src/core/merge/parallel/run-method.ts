/** Runs one tensor's method: the dispatch the merge entry point and the tensor workers share. */
import { mergeLinear } from '../methods/linear';
import type { MethodSpec } from '../methods/registry';
import { mergeSlerp } from '../methods/slerp';
import { mergeSvdFamily } from '../methods/svd-merge';
import { mergeTaskVectors } from '../methods/task-arithmetic';
import { mergeTensorMethod } from '../methods/tensor-methods';
import type { TensorJob } from '../tensor-job';

export function runMethod<T>(job: TensorJob<T>, spec: MethodSpec): Promise<void> {
  switch (spec.family) {
    case 'task_vector':
      return mergeTaskVectors(job, spec);
    case 'linear':
      return mergeLinear(job);
    case 'slerp':
      return mergeSlerp(job);
    case 'svd':
      return mergeSvdFamily(job, spec, job.svd!);
    case 'tensor':
      return mergeTensorMethod(job, spec);
  }
}
