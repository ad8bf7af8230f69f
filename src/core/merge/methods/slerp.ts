/**
 * SLERP between θ₀ (base) and θ₁ over the flattened tensor, as mergekit does it:
 * cos Ω = θ̂₀·θ̂₁; θ = sin((1−t)Ω)/sin Ω · θ₀ + sin(tΩ)/sin Ω · θ₁, and plain linear interpolation
 * when the two are nearly parallel (|cos Ω| > 0.9995).
 */
import type { TensorJob } from '../tensor-job';

export const SLERP_DOT_THRESHOLD = 0.9995;

/** Coefficients (s0, s1) from the whole-tensor norms and dot product. */
export function slerpCoefficients(t: number, aa: number, bb: number, ab: number, eps = 1e-8): [number, number] {
  const na = Math.sqrt(aa);
  const nb = Math.sqrt(bb);
  const cos = ab / ((na > eps ? na : 1) * (nb > eps ? nb : 1));
  if (Math.abs(cos) > SLERP_DOT_THRESHOLD) return [1 - t, t];
  const omega = Math.acos(cos);
  const s = Math.sin(omega);
  return [Math.sin((1 - t) * omega) / s, Math.sin(t * omega) / s];
}

export async function mergeSlerp<T>(job: TensorJob<T>): Promise<void> {
  const be = job.backend;
  let aa = 0;
  let bb = 0;
  let ab = 0;
  for (let c = 0; c < job.numChunks; c++) {
    const [a, b] = await job.load(c);
    aa += await be.dot(a!, a!);
    bb += await be.dot(b!, b!);
    ab += await be.dot(a!, b!);
  }
  const [s0, s1] = slerpCoefficients(job.global.t, aa, bb, ab);
  job.diagnostics.slerp = { s0, s1 };
  for (let c = 0; c < job.numChunks; c++) {
    const [a, b] = await job.load(c);
    await job.emit(await be.weightedSum([a!, b!], [s0, s1]));
  }
}
