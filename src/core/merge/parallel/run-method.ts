/** Runs one tensor's method: the dispatch the merge entry point and the tensor workers share. */
import { fastMagnitudeApplies, mergeMagnitudeFast } from '../fast/magnitude-merge';
import type { FastTensor } from '../fast/fast-cpu-backend';
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
      // TIES and breadcrumbs on the fast CPU backend: fewer passes, same bytes.
      if (fastMagnitudeApplies(job, spec))
        return mergeMagnitudeFast(job as TensorJob<unknown> as TensorJob<FastTensor>, spec);
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
