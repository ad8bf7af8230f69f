/**
 * Arcee Fusion (mergekit's arcee_fusion) of the base θ₀ and one other model θ₁:
 *   importance = |θ₁ − θ₀| · KL(softmax(θ₁) ‖ softmax(θ₀)) of the element's row (+1e-8 on both
 *   softmaxes; rows along the last dimension, a 1-D tensor is one row);
 *   threshold = median + 1.5 · (q₃ − q₁) of the importances (sorted ascending, index ⌊q·(n − 1)⌋);
 *   θ = θ₀ + (θ₁ − θ₀) where importance ≥ threshold.
 * The row statistics (max, Σ exp, KL) are summed on the CPU in f64 over three passes; the quantiles
 * are exact radix selections on the backend (mergekit estimates them from a random sample of 10⁶
 * elements in larger tensors).
 */
import { kthLargestAbs } from '../select';
import type { TensorJob } from '../tensor-job';

const SOFTMAX_EPS = 1e-8;

async function toF32<T>(job: TensorJob<T>, x: T): Promise<Float32Array> {
  const bytes = await job.backend.store(x, 'F32');
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

export async function mergeArceeFusion<T>(job: TensorJob<T>): Promise<void> {
  const be = job.backend;
  const cols = job.shape.length < 2 ? job.numel : job.shape[job.shape.length - 1]!;
  const rows = job.numel / cols;
  /** Calls visit(base, other, first element) for every chunk, as f32 on the CPU. */
  const each = async (visit: (a: Float32Array, b: Float32Array, first: number) => void | Promise<void>) => {
    for (let c = 0; c < job.numChunks; c++) {
      const [a, b] = await job.load(c);
      await visit(await toF32(job, a!), await toF32(job, b!), c * job.chunkElements);
    }
  };
  const perRow = (fill: number) => new Float64Array(rows).fill(fill);
  const [maxA, maxB, sumA, sumB, kl] = [perRow(-Infinity), perRow(-Infinity), perRow(0), perRow(0), perRow(0)];
  await each((a, b, first) => {
    for (let i = 0; i < a.length; i++) {
      const r = Math.floor((first + i) / cols);
      maxA[r] = Math.max(maxA[r]!, a[i]!);
      maxB[r] = Math.max(maxB[r]!, b[i]!);
    }
  });
  await each((a, b, first) => {
    for (let i = 0; i < a.length; i++) {
      const r = Math.floor((first + i) / cols);
      sumA[r]! += Math.exp(a[i]! - maxA[r]!);
      sumB[r]! += Math.exp(b[i]! - maxB[r]!);
    }
  });
  await each((a, b, first) => {
    for (let i = 0; i < a.length; i++) {
      const r = Math.floor((first + i) / cols);
      const p = Math.exp(b[i]! - maxB[r]!) / sumB[r]! + SOFTMAX_EPS;
      const q = Math.exp(a[i]! - maxA[r]!) / sumA[r]! + SOFTMAX_EPS;
      kl[r]! += p * Math.log(p / q);
    }
  });
  const importance = (a: Float32Array, b: Float32Array, first: number) =>
    a.map((ai, i) => Math.abs(b[i]! - ai) * kl[Math.floor((first + i) / cols)]!);

  // Quantile q: ascending index ⌊q(n − 1)⌋, the (n − index)-th largest.
  const quantile = (q: number) =>
    kthLargestAbs(
      be,
      (visit) =>
        each(async (a, b, first) => {
          const imp = importance(a, b, first);
          const h = await be.load(new Uint8Array(imp.buffer), 'F32');
          await visit(h);
          be.release(h);
        }),
      job.numel - Math.floor(q * (job.numel - 1)),
    );
  const [q1, median, q3] = [await quantile(0.25), await quantile(0.5), await quantile(0.75)];
  const threshold = median + 1.5 * (q3 - q1);

  const f = Math.fround;
  await each(async (a, b, first) => {
    const imp = importance(a, b, first);
    const out = a.map((ai, i) => (imp[i]! >= threshold ? f(ai + f(b[i]! - ai)) : ai));
    await job.emit(await be.load(new Uint8Array(out.buffer), 'F32'));
  });
}
