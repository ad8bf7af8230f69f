/**
 * Runs one tensor's method: the dispatch the merge entry point and the tensor workers share. Where
 * emit reads nothing of the loaded chunk (TensorJob.emitReadsInputs === false), emits are pipelined:
 * the method loads and computes chunk c+1 while chunk c is still being stored (a GPU readback) and
 * written, at most one emit in flight, so at most two chunks are held at once.
 */
import { fastMagnitudeApplies, mergeMagnitudeFast } from '../fast/magnitude-merge';
import type { FastTensor } from '../fast/fast-cpu-backend';
import { mergeLinear } from '../methods/linear';
import type { MethodSpec } from '../methods/registry';
import { mergeSlerp } from '../methods/slerp';
import { mergeSvdFamily } from '../methods/svd-merge';
import { mergeTaskVectors } from '../methods/task-arithmetic';
import { mergeTensorMethod } from '../methods/tensor-methods';
import type { TensorJob } from '../tensor-job';

export async function runMethod<T>(job: TensorJob<T>, spec: MethodSpec): Promise<void> {
  if (job.emitReadsInputs !== false || job.numChunks < 2) return dispatchMethod(job, spec);
  const emits = new EmitPipeline(job);
  try {
    await dispatchMethod(emits.job, spec);
  } catch (e) {
    await emits.inFlight.catch(() => undefined); // the method's own error wins
    throw e;
  }
  await emits.inFlight;
}

function dispatchMethod<T>(job: TensorJob<T>, spec: MethodSpec): Promise<void> {
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

/** `job` as the method sees it, with an emit that returns once the chunk's store has started. */
class EmitPipeline<T> {
  /** The emit in progress (settled when none is). Bound: one, so chunks in memory stay at two. */
  inFlight: Promise<void> = Promise.resolve();
  readonly job: TensorJob<T>;

  constructor(inner: TensorJob<T>) {
    const emit = async (out: T) => {
      try {
        await this.inFlight; // in order, and surfaces the previous emit's error
      } catch (e) {
        inner.backend.release(out);
        throw e;
      }
      // Called synchronously, emit starts the store (a GPU readback) before it first awaits.
      this.inFlight = inner.emit(out);
      this.inFlight.catch(() => undefined); // surfaced by the next emit or by runMethod
    };
    this.job = {
      name: inner.name,
      numel: inner.numel,
      backend: inner.backend,
      chunkElements: inner.chunkElements,
      numChunks: inner.numChunks,
      inputs: inner.inputs,
      global: inner.global,
      seed: inner.seed,
      shape: inner.shape,
      svd: inner.svd,
      spectrum: inner.spectrum,
      diagnostics: inner.diagnostics,
      diagnose: inner.diagnose,
      emitReadsInputs: false,
      load: (c) => inner.load(c),
      loadInputs: (c, which) => inner.loadInputs(c, which),
      emit,
    };
  }
}
