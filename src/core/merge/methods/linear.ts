/** Linear merge: θ = Σ w_t θ_t / Σ w_t (without `normalize`: Σ w_t θ_t). */
import type { TensorJob } from '../tensor-job';

export async function mergeLinear<T>(job: TensorJob<T>): Promise<void> {
  const ws = job.inputs.map((m) => m.params.weight);
  const sum = ws.reduce((a, b) => a + b, 0);
  const div = job.global.normalize && Math.abs(sum) >= 1e-8 ? sum : 1;
  for (let c = 0; c < job.numChunks; c++) {
    await job.emit(
      await job.backend.weightedSum(
        await job.load(c),
        ws.map((w) => w / div),
      ),
    );
  }
}
