/** passthrough: each output tensor is one input tensor × `scale` (slices are planned in passthrough-plan.ts). */
import type { TensorJob } from '../tensor-job';

export async function mergePassthrough<T>(job: TensorJob<T>): Promise<void> {
  const scale = job.inputs[0]!.params.weight;
  for (let c = 0; c < job.numChunks; c++) {
    const [x] = await job.load(c);
    await job.emit(await job.backend.weightedSum([x!], [scale]));
  }
}
