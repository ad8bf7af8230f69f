/**
 * The generalized task-arithmetic core shared by task_arithmetic, ties, dare_linear, dare_ties,
 * breadcrumbs, breadcrumbs_ties, della and della_linear (mergekit's GTA):
 *   δ_t = θ_t − θ₀;  δ̂_t = sparsify(δ_t) (× ‖δ_t‖₁/‖δ̂_t‖₁ with rescale);  x_t = w_t δ̂_t
 *   consensus: γ = sign(Σ x_t); m = Σ_{sign x_t = γ} x_t / (normalize ? Σ_{agree} w_t : 1)
 *   none:      m = Σ x_t / (normalize ? Σ w_t : 1)
 *   θ = θ₀ + λ m
 * Sparsification (sparsify.ts) is per tensor, over the whole tensor, as mergekit and the papers do.
 */
import { DELTA } from '../../kernels/delta';
import { signConflictCount } from '../diagnostics';
import type { IndexedChunkVisitor } from '../select';
import type { TensorJob } from '../tensor-job';
import type { MethodSpec } from './registry';
import { type Sparsifier, chooseSparsifier, l1RescaleFactor, sparsify } from './sparsify';

export async function mergeTaskVectors<T>(job: TensorJob<T>, spec: MethodSpec): Promise<void> {
  const be = job.backend;
  const models = job.inputs.slice(1);
  const { lambda, normalize, rescale } = job.global;
  const sparse = (i: number) => spec.sparsification !== 'none' && models[i]!.params.density < 1;

  // Single-chunk tensors keep their deltas between the selection passes and the merge pass.
  const cached = new Map<number, T>();
  const deltaOf = async (ins: readonly T[], i: number): Promise<T> =>
    cached.get(i) ?? be.elementwise(DELTA, [ins[i + 1]!, ins[0]!], {});
  const done = (i: number, d: T) => {
    if (cached.get(i) !== d) be.release(d);
  };
  /** Model i's task vector chunk by chunk (or chunk `only`), for the passes before the merge. */
  const deltaChunks =
    (i: number): IndexedChunkVisitor<T> =>
    async (visit, only) => {
      if (job.numChunks === 1) {
        if (!cached.has(i)) cached.set(i, await deltaOf(await job.load(0), i));
        return visit(cached.get(i)!, 0);
      }
      // Multi-chunk tensors: each pass re-reads only the base and the model in question.
      const [first, end] = only === undefined ? [0, job.numChunks] : [only, only + 1];
      for (let c = first; c < end; c++) {
        const [base, model] = await job.loadInputs(c, [0, i + 1]);
        const d = await be.elementwise(DELTA, [model!, base!], {});
        be.release(base!);
        be.release(model!);
        await visit(d, c);
        be.release(d);
      }
    };

  const sparsifiers: (Sparsifier<T> | undefined)[] = [];
  const scales: number[] = models.map(() => 1);
  for (let i = 0; i < models.length; i++) {
    if (!sparse(i)) continue;
    sparsifiers[i] = await chooseSparsifier(job, spec, i + 1, deltaChunks(i));
    if (rescale) scales[i] = await l1RescaleFactor(job, sparsifiers[i]!, deltaChunks(i));
  }

  const ws = models.map((m) => m.params.weight);
  const wsum = ws.reduce((a, b) => a + b, 0);
  const divisor = normalize && Math.abs(wsum) >= 1e-8 ? wsum : 1;
  // The L1 rescale multiplies each sparsified task vector; it goes into the weight applied to it.
  const scaled = ws.map((w, i) => w * scales[i]!);

  const diag = job.diagnose ? new TaskVectorDiagnostics(models.length) : undefined;
  for (let c = 0; c < job.numChunks; c++) {
    const ins = await job.load(c);
    if (diag) {
      const deltas = await Promise.all(models.map((_, i) => deltaOf(ins, i)));
      await diag.add(be, deltas);
      deltas.forEach((d, i) => done(i, d));
    }
    if (spec.sparsification === 'none' && spec.consensus === 'none') {
      // Task arithmetic in one pass: θ₀ + λ Σ w_t (θ_t − θ₀)/div = (1 − Σc_t) θ₀ + Σ c_t θ_t.
      const coefs = ws.map((w) => (lambda * w) / divisor);
      await job.emit(await be.weightedSum(ins, [1 - coefs.reduce((a, b) => a + b, 0), ...coefs]));
      continue;
    }
    const sparsified: T[] = [];
    for (let i = 0; i < models.length; i++) {
      const d = await deltaOf(ins, i);
      let s = d;
      if (sparse(i)) {
        s = await sparsify(job, sparsifiers[i]!, d, c);
        done(i, d);
      }
      sparsified.push(s);
    }
    let out: T;
    if (spec.consensus === 'sign') {
      const weighted = await Promise.all(sparsified.map((s, i) => be.weightedSum([s], [scaled[i]!])));
      const sign = await be.electSign(weighted);
      const mixed = await be.disjointMean(weighted, ws, sign, normalize);
      out = await be.weightedSum([ins[0]!, mixed], [1, lambda]);
      for (const x of [...weighted, sign, mixed]) be.release(x);
    } else {
      out = await be.weightedSum([ins[0]!, ...sparsified], [1, ...scaled.map((w) => (lambda * w) / divisor)]);
    }
    sparsified.forEach((s, i) => (sparse(i) ? be.release(s) : done(i, s)));
    await job.emit(out);
  }
  for (const d of cached.values()) be.release(d);
  diag?.report(job, {
    models: models.map((m) => m.model),
    densities: models.map((m) => m.params.density),
    trims: spec.sparsification !== 'none',
  });
}

/** Per-tensor task-vector statistics: norms, pairwise cosines, sign-conflict rate, fraction trimmed. */
export class TaskVectorDiagnostics<T> {
  private readonly gram: number[][];
  private conflicts = 0;
  private n = 0;
  constructor(k: number) {
    this.gram = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  }
  async add(be: TensorJob<T>['backend'], deltas: readonly T[]): Promise<void> {
    for (let i = 0; i < deltas.length; i++)
      for (let j = i; j < deltas.length; j++) this.gram[i]![j]! += await be.dot(deltas[i]!, deltas[j]!);
    if (deltas.length > 1) this.conflicts += await signConflictCount(be, deltas);
  }
  /** Writes the statistics into the job's diagnostics; `trims`: the method sparsifies (fraction trimmed = 1 − density). */
  report(
    job: TensorJob<T>,
    { models, densities, trims }: { models: readonly string[]; densities: readonly number[]; trims: boolean },
  ): void {
    const d = job.diagnostics;
    this.n = job.numel;
    models.forEach((m, i) => {
      d.norms.push({ model: m, value: Math.sqrt(this.gram[i]![i]!) });
      if (trims) d.trimmed.push({ model: m, value: 1 - Math.min(1, densities[i]!) });
      for (let j = i + 1; j < models.length; j++) {
        const den = Math.sqrt(this.gram[i]![i]! * this.gram[j]![j]!);
        d.cosines.push({ a: m, b: models[j]!, value: den > 0 ? this.gram[i]![j]! / den : 0 });
      }
    });
    if (models.length > 1) d.signConflicts = this.n ? this.conflicts / this.n : 0;
  }
}
