/**
 * RAM and RAM+ tensor-local (mergekit's ram, ramplus_tl) over the task vectors δ_t = θ_t − θ₀:
 * element e counts for model t when |δ_t| > ε; c = how many models count there;
 *   θ = θ₀ + (c = 1: λ_t δ_t of the one model;  c > 1: Σ δ_t / c;  c = 0: 0),
 * with λ_t = 1 (ram) or, for ramplus_tl, λ_t = 1 + r · clamp(ρ_t, 0, α), ρ_t = (elements where t
 * shares) / max(elements where t alone counts, ε), counted over the whole tensor (on the CPU).
 */
import { DELTA } from '../../kernels/delta';
import { RAM_ACCUMULATE, RAM_FINAL } from '../../kernels/ram';
import type { TensorJob } from '../tensor-job';

async function toF32<T>(job: TensorJob<T>, x: T): Promise<Float32Array> {
  const bytes = await job.backend.store(x, 'F32');
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

export async function mergeRam<T>(job: TensorJob<T>, plus: boolean): Promise<void> {
  const be = job.backend;
  const epsilon = job.inputs[1]?.params.epsilon ?? 1e-5;
  const o = job.global.options ?? {};
  const deltasOf = (ins: readonly T[]) => Promise.all(ins.slice(1).map((m) => be.elementwise(DELTA, [m, ins[0]!], {})));
  const accumulate = async (ds: readonly T[], ws: readonly number[], count: boolean) => {
    let acc = await be.weightedSum([ds[0]!], [0]);
    for (const [t, d] of ds.entries()) {
      const next = await be.elementwise(RAM_ACCUMULATE, [d, acc], { epsilon, w: ws[t]!, count });
      be.release(acc);
      acc = next;
    }
    return acc;
  };
  const ones = job.inputs.slice(1).map(() => 1);

  let lambdas = ones;
  if (plus) {
    const shared = ones.map(() => 0);
    const alone = ones.map(() => 0);
    const eps = Math.fround(epsilon);
    for (let c = 0; c < job.numChunks; c++) {
      const ds = await deltasOf(await job.load(c));
      const xs = await Promise.all(ds.map((d) => toF32(job, d)));
      ds.forEach((d) => be.release(d));
      for (let e = 0; e < xs[0]!.length; e++) {
        let n = 0;
        for (const x of xs) if (Math.abs(x[e]!) > eps) n++;
        xs.forEach((x, t) => {
          if (Math.abs(x[e]!) > eps) (n > 1 ? shared : alone)[t]!++;
        });
      }
    }
    const [r, alpha] = [Number(o.r ?? 0.1), Number(o.alpha ?? 0.2)];
    lambdas = shared.map((s, t) => 1 + r * Math.min(alpha, Math.max(0, s / Math.max(alone[t]!, epsilon))));
  }

  for (let c = 0; c < job.numChunks; c++) {
    const ins = await job.load(c);
    const ds = await deltasOf(ins);
    const [sum, count] = [await accumulate(ds, ones, false), await accumulate(ds, ones, true)];
    const weighted = plus ? await accumulate(ds, lambdas, false) : sum;
    const merged = await be.elementwise(RAM_FINAL, [sum, weighted, count], {});
    const out = await be.weightedSum([ins[0]!, merged], [1, 1]);
    for (const x of new Set([...ds, sum, count, weighted, merged])) be.release(x);
    await job.emit(out);
  }
}
