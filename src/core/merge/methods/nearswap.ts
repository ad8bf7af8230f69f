/**
 * NearSwap (mergekit's nearswap) of the base and exactly one other model, element by element
 * (kernels/nearswap.ts): where they are closer than t the other model's value is taken, elsewhere
 * the base moves t towards it.
 */
import { NEARSWAP } from '../../kernels/nearswap';
import type { TensorJob } from '../tensor-job';

export async function mergeNearswap<T>(job: TensorJob<T>): Promise<void> {
  const t = Number(job.global.options?.t);
  for (let c = 0; c < job.numChunks; c++) {
    const [base, other] = await job.load(c);
    await job.emit(await job.backend.elementwise(NEARSWAP, [base!, other!], { t }));
  }
}
