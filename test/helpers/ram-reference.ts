/** mergekit's ram and ramplus_tl in f64 on small stored tensors, for the CPU and WebGPU tests. */
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { randomFloats } from './checkpoints';
import { runMerge, valuesCheckpoint } from './merge-harness';

const MODELS = ['a', 'b', 'c'];
const N = 40;

/** δ patterns: each element is moved by 0–3 of the models (by more than ε or by less). */
export function ramStored(m: string, dtype: DType): number[] {
  const base = randomFloats(N, 90);
  const k = MODELS.indexOf(m);
  const raw =
    k < 0 ? base : base.map((v, i) => v + ((i >> k) & 1 ? 0.3 * randomFloats(N, 91 + k)[i]! : i % 5 === 0 ? 4e-6 : 0));
  return [...decodeToF32(encodeFromF32(raw, dtype), dtype)];
}

export interface RamCase {
  readonly method: 'ram' | 'ramplus_tl';
  readonly dtype: DType;
  readonly params: Readonly<Record<string, number>>;
}

export const RAM_CASES: readonly RamCase[] = [
  { method: 'ram', dtype: 'F32', params: {} },
  { method: 'ram', dtype: 'BF16', params: { epsilon: 1e-3 } },
  { method: 'ramplus_tl', dtype: 'F32', params: {} },
  { method: 'ramplus_tl', dtype: 'F32', params: { r: 0.5, alpha: 0.9, epsilon: 1e-6 } },
];

export async function runRam(c: RamCase, opts: Parameters<typeof runMerge>[2] = {}) {
  const ps = Object.entries(c.params).map(([k, v]) => `${k}: ${v}`);
  const yaml = `merge_method: ${c.method}\nbase_model: base\nmodels: [${MODELS.map((m) => `{model: ${m}}`).join(', ')}]\n${ps.length ? `parameters: {${ps.join(', ')}}\n` : ''}dtype: float32`;
  const cks = await Promise.all(
    ['base', ...MODELS].map((m) =>
      valuesCheckpoint(m, { w: { shape: [5, 8], values: ramStored(m, c.dtype) } }, c.dtype),
    ),
  );
  return runMerge(yaml, cks, opts);
}

/** ram_merge / ramplus_tl_merge. */
export function ramRef(c: RamCase): number[] {
  const eps = c.params.epsilon ?? 1e-5;
  const base = ramStored('base', c.dtype);
  const tvs = MODELS.map((m) => ramStored(m, c.dtype).map((v, i) => v - base[i]!));
  const nz = tvs.map((tv) => tv.map((v) => Math.abs(v) > Math.fround(eps)));
  const counts = base.map((_, i) => nz.reduce((s, z) => s + (z[i] ? 1 : 0), 0));
  let lambdas = MODELS.map(() => 1);
  if (c.method === 'ramplus_tl') {
    const [r, alpha] = [c.params.r ?? 0.1, c.params.alpha ?? 0.2];
    lambdas = nz.map((z) => {
      const shared = z.filter((v, i) => v && counts[i]! > 1).length;
      const unique = z.filter((v, i) => v && counts[i] === 1).length;
      return 1 + r * Math.min(alpha, Math.max(0, shared / Math.max(unique, eps)));
    });
  }
  return base.map((b, i) => {
    let merged = 0;
    tvs.forEach((tv, t) => {
      if (!nz[t]![i]) return;
      merged += counts[i] === 1 ? tv[i]! * lambdas[t]! : tv[i]! / Math.max(counts[i]!, 1);
    });
    return b + merged;
  });
}
