/**
 * Explanations of the methods that pick entries: nearswap (which entries are swapped for the other
 * model's and why: their distance is below t), arcee_fusion (which entries are important enough),
 * RAM (how many task vectors count at each entry) and SCE (the high-variance entries, the
 * weights and the elected sign). The per-entry quantities are restated here for display; the
 * merged row is the engine's output, and the tests check the two agree.
 */
import { delta } from '../../kernels/delta';
import { electSign } from '../../kernels/elect-sign';
import { ramAccumulate } from '../../kernels/ram';
import { TOY_TENSOR, type ToyRun } from './toy';
import { type ExplainedBody, fmt, inputsOf, mergedOf, row, taskVectors } from './rows';
import type { CellMark } from './types';

const options = (run: ToyRun) => run.plan.tensors.find((t) => t.name === TOY_TENSOR)!.global.options ?? {};
const cols = (run: ToyRun) => run.plan.tensors.find((t) => t.name === TOY_TENSOR)!.shape.at(-1)!;

export function explainNearswap(run: ToyRun): ExplainedBody {
  const [base, other] = inputsOf(run) as [ReturnType<typeof inputsOf>[number], ReturnType<typeof inputsOf>[number]];
  const t = Number(options(run).t);
  const dist = Float32Array.from(base.values, (b, i) => Math.abs(b - other.values[i]!));
  const w = Array.from(dist, (d) => Math.min(1, Math.max(0, t / Math.max(d, 1e-6))));
  const marks = w.map((v): CellMark | undefined => (v >= 1 ? 'swapped' : undefined));
  return {
    summary: `NearSwap takes ${other.label}'s value wherever it is within t = ${fmt(t, 3)} of θ₀, and elsewhere moves θ₀ by t towards it.`,
    steps: [
      {
        caption: 'The base and the other model.',
        rows: [row(base.label, base.values), row(other.label, other.values)],
      },
      {
        caption: 'w = clamp(t / |θ₀ − θ₁|, 0, 1); marked entries (w = 1) are swapped whole.',
        rows: [row('|θ₀ − θ₁|', dist), row('w', w, { marks })],
      },
    ],
    facts: [
      { label: 't', value: fmt(t, 3) },
      { label: 'entries swapped', value: String(marks.filter(Boolean).length) },
    ],
    merged: row('merged θ', mergedOf(run), { marks }),
  };
}

/** Arcee Fusion's importance |θ₁ − θ₀| · KL(softmax θ₁ ‖ softmax θ₀) of each entry's row, and its cut. */
export function fusionImportance(base: Float32Array, other: Float32Array, width: number) {
  const imp = new Float64Array(base.length);
  for (let s = 0; s < base.length; s += width) {
    const softmax = (x: Float32Array) => {
      const r = Array.from(x.subarray(s, s + width));
      const m = Math.max(...r);
      const z = r.reduce((a, v) => a + Math.exp(v - m), 0);
      return r.map((v) => Math.exp(v - m) / z + 1e-8);
    };
    const [p, q] = [softmax(other), softmax(base)];
    const kl = p.reduce((a, pi, i) => a + pi * Math.log(pi / q[i]!), 0);
    for (let i = 0; i < width; i++) imp[s + i] = Math.abs(other[s + i]! - base[s + i]!) * kl;
  }
  const sorted = Array.from(imp).sort((a, b) => a - b);
  const q = (f: number) => sorted[Math.floor(f * (sorted.length - 1))]!;
  return { importance: imp, threshold: q(0.5) + 1.5 * (q(0.75) - q(0.25)) };
}

export function explainArceeFusion(run: ToyRun): ExplainedBody {
  const [base, other] = inputsOf(run) as [ReturnType<typeof inputsOf>[number], ReturnType<typeof inputsOf>[number]];
  const { importance, threshold } = fusionImportance(base.values, other.values, cols(run));
  const marks = Array.from(importance, (v): CellMark | undefined => (v >= threshold ? 'selected' : undefined));
  return {
    summary:
      'Arcee Fusion keeps θ₀ except where the other model differs a lot in a row whose output distribution it changes: there it takes the other model’s value.',
    steps: [
      {
        caption: 'The base and the other model (rows of 4).',
        rows: [row(base.label, base.values), row(other.label, other.values)],
      },
      {
        caption:
          'importance = |θ₁ − θ₀| · KL(softmax θ₁ ‖ softmax θ₀) of the row; marked entries reach median + 1.5 IQR.',
        rows: [row('importance', importance, { marks })],
      },
    ],
    facts: [
      { label: 'threshold', value: fmt(threshold, 4) },
      { label: 'entries taken from θ₁', value: String(marks.filter(Boolean).length) },
    ],
    merged: row('merged θ', mergedOf(run), { marks }),
  };
}

export function explainRam(run: ToyRun): ExplainedBody {
  const ins = inputsOf(run);
  const ds = taskVectors(ins);
  const epsilon = ds[0]!.input.params.epsilon ?? 1e-5;
  const o = options(run);
  let count: Float32Array = new Float32Array(ds[0]!.values.length);
  for (const d of ds) count = ramAccumulate(d.values, count, { epsilon, w: 1, count: true });
  const marks = Array.from(count, (c): CellMark | undefined => (c === 1 ? 'alone' : c > 1 ? 'shared' : undefined));
  const facts = [{ label: 'ε', value: String(epsilon) }];
  if (run.spec.name === 'ramplus_tl') {
    const f = Math.fround(epsilon);
    const [r, alpha] = [Number(o.r ?? 0.1), Number(o.alpha ?? 0.2)];
    ds.forEach((d) => {
      const counts = Array.from(d.values).filter((v) => Math.abs(v) > f);
      const shared = Array.from(d.values).filter((v, e) => Math.abs(v) > f && count[e]! > 1).length;
      const alone = counts.length - shared;
      const lambda = 1 + r * Math.min(alpha, Math.max(0, shared / Math.max(alone, epsilon)));
      facts.push({ label: `λ for ${d.label} (shared ${shared}, alone ${alone})`, value: fmt(lambda, 3) });
    });
  }
  return {
    summary:
      'RAM counts, at each entry, the task vectors with |δ| > ε: one alone keeps its value' +
      (run.spec.name === 'ramplus_tl' ? ' (× its λ)' : '') +
      ', several are averaged, none leave θ₀.',
    steps: [
      { caption: 'Task vectors δ = θ − θ₀.', rows: ds.map((d) => row(d.label, d.values)) },
      { caption: 'c = how many |δ| > ε: marked alone (c = 1) or shared (c > 1).', rows: [row('c', count, { marks })] },
      { caption: 'θ − θ₀ as merged.', rows: [row('merged δ', delta(mergedOf(run), ins[0]!.values), { marks })] },
    ],
    facts,
    merged: row('merged θ', mergedOf(run)),
  };
}

export function explainSce(run: ToyRun): ExplainedBody {
  const ins = inputsOf(run);
  const ds = taskVectors(ins);
  const n = ds[0]!.values.length;
  const topk = Number(options(run).select_topk ?? 1);
  const variance = Array.from({ length: n }, (_, e) => {
    const xs = ds.map((d) => d.values[e]!);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length;
  });
  let keep = variance.map(() => true);
  if (topk < 1) {
    const k = topk <= 0 ? 0 : Math.floor(variance.filter((v) => v !== 0).length * topk);
    const order = [...variance.keys()].sort((i, j) => variance[j]! - variance[i]! || i - j);
    const chosen = new Set(order.slice(0, k));
    keep = variance.map((_, e) => chosen.has(e));
  }
  const masked = ds.map((d) => Float32Array.from(d.values, (v, e) => (keep[e] ? v : 0)));
  const squares = masked.map((m) => m.reduce((s, v) => s + v * v, 0) / n);
  const total = squares.reduce((a, b) => a + b, 0);
  const weights = total < 1e-6 ? squares.map(() => 1 / ds.length) : squares.map((s) => s / total);
  const sign = electSign(masked);
  const marks = keep.map((k): CellMark | undefined => (k ? 'selected' : undefined));
  return {
    summary:
      'SCE keeps the entries where the task vectors vary most, weighs each by its mean square, and averages those that agree with the elected sign.',
    steps: [
      { caption: 'Task vectors δ = θ − θ₀.', rows: ds.map((d) => row(d.label, d.values)) },
      {
        caption: `Select: the top select_topk = ${fmt(topk)} of the variance across models (marked).`,
        rows: [row('variance', variance, { marks })],
      },
      {
        caption: 'Erase: only entries agreeing with γ = sign(Σ δ) count.',
        rows: [row('sign γ', sign, { text: Array.from(sign, (s) => (s > 0 ? '+' : '−')) })],
      },
    ],
    facts: [{ label: 'w_t = mean(δ_t²) / Σ', value: ds.map((d, t) => `${d.label} ${fmt(weights[t]!, 3)}`).join(', ') }],
    merged: row('merged θ', mergedOf(run)),
  };
}
