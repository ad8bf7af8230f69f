/**
 * Explanations of the weighted families: linear, SLERP and the task-vector core (task arithmetic,
 * TIES, DARE, breadcrumbs, DELLA): which entries each task vector keeps (sparsify-values.ts, the
 * engine's rules on a small vector; DELLA's kernels row by row), the elected sign, and the merged δ
 * the engine produced.
 */
import { delta } from '../../kernels/delta';
import { bernoulliMask } from '../../kernels/bernoulli-mask';
import { dellaKeep } from '../../kernels/della-keep';
import { dot } from '../../kernels/dot';
import { electSign } from '../../kernels/elect-sign';
import { DEFAULT_EPSILON } from '../methods/parameters';
import { RESCALE_EPS, keptRanks } from '../methods/sparsify';
import type { InputParameters } from '../tensor-job';
import { sparsifyValues } from '../methods/sparsify-values';
import { TOY_SHAPE, TOY_TENSOR, type ToyRun, toyInputs } from './toy';
import { type ExplainedBody, degrees, fmt, inputsOf, mergedOf, row, taskVectors, withWeight } from './rows';
import type { CellMark } from './types';

const global = (run: ToyRun) => run.plan.tensors.find((t) => t.name === TOY_TENSOR)!.global;

function sparsifyCaption(run: ToyRun, n: number): string {
  const s = run.spec.sparsification;
  const p = toyInputs(run)[1]!.params;
  if (s === 'magnitude')
    return `Trim: each δ keeps its int(density · ${n}) = ${keptRanks(s, n, p.density, 0).target} largest |δ|.`;
  if (s === 'magnitude_outliers') {
    const { top, target } = keptRanks(s, n, p.density, p.gamma);
    return `Band: each δ drops its ${top} largest |δ| (γ) and keeps the next ${target} (density); the rest is dropped.`;
  }
  if (s === 'random')
    return `Drop: each entry is kept with probability density = ${fmt(p.density)} (a hash of random_seed).`;
  return `MagPrune: keep probability density ± ε by |δ| rank within each row of 4 (row p), then a seeded draw.`;
}

/**
 * DELLA's sparsification of a small 2-D tensor as della.ts does it: keep probabilities ranked within
 * each row of `cols` (dellaKeep), the hashed draws (bernoulliMask, from element 0), then mergekit's
 * L1 rescale (as sparsify-values.ts does for one row).
 */
function dellaRows(
  x: Float32Array,
  cols: number,
  p: InputParameters,
  rescale: boolean,
  seed: number,
  stream: number,
): Float32Array {
  if (p.density >= 1) return Float32Array.from(x);
  if (p.density <= 0) return new Float32Array(x.length);
  const kept = bernoulliMask(x, dellaKeep(x, cols, p.density, p.epsilon ?? DEFAULT_EPSILON), seed, stream, 0);
  if (!rescale) return kept;
  const l1 = (v: Float32Array) => v.reduce((s, e) => s + Math.abs(e), 0);
  const [before, after] = [l1(x), l1(kept)];
  return before < RESCALE_EPS || after < RESCALE_EPS ? kept : kept.map((v) => v * (before / after));
}

export function explainTaskVector(run: ToyRun): ExplainedBody {
  const spec = run.spec;
  const ins = inputsOf(run);
  const deltas = taskVectors(ins);
  const g = global(run);
  const cols = TOY_SHAPE.at(-1)!;
  const kept = deltas.map((d) => {
    const p = d.input.params;
    if (spec.sparsification === 'della')
      return dellaRows(d.values, cols, p, g.rescale, run.recipe.randomSeed, d.input.stream);
    return sparsifyValues(d.values, spec.sparsification, {
      density: p.density,
      gamma: p.gamma,
      ...(p.epsilon !== undefined ? { epsilon: p.epsilon } : {}),
      rescale: g.rescale,
      seed: run.recipe.randomSeed,
      stream: d.input.stream,
    });
  });
  const steps: ExplainedBody['steps'][number][] = [
    { caption: 'Task vectors δ = θ − θ₀ of the toy models.', rows: deltas.map((d) => row(withWeight(d), d.values)) },
  ];
  const facts = [{ label: 'λ', value: fmt(g.lambda) }];
  if (spec.sparsification !== 'none') {
    const rows = deltas.flatMap((d, i) => {
      const marks = Array.from(d.values, (v, e): CellMark | undefined =>
        kept[i]![e] === 0 && v !== 0 ? 'dropped' : undefined,
      );
      const out = [row(`kept ${d.label.replace('δ_', 'δ̂_')}`, kept[i]!, { marks })];
      if (spec.sparsification === 'della' && d.input.params.density < 1) {
        const p = d.input.params;
        const keep = dellaKeep(d.values, cols, p.density, p.epsilon ?? 0);
        out.unshift(
          row(
            `keep p (${d.label})`,
            Array.from(keep, (u) => u / 2 ** 24),
          ),
        );
      }
      return out;
    });
    steps.push({ caption: sparsifyCaption(run, ins[0]!.values.length), rows });
    if (g.rescale)
      deltas.forEach((d, i) => {
        const l1 = (v: ArrayLike<number>) => Array.from(v).reduce((s, x) => s + Math.abs(x), 0);
        const before = l1(d.values);
        const after = l1(Float32Array.from(d.values, (v, e) => (kept[i]![e] === 0 ? 0 : v)));
        if (after > 0 && d.input.params.density < 1)
          facts.push({ label: `rescale ${d.label}`, value: `× ${fmt(before / after, 3)}` });
      });
  }
  if (spec.consensus === 'sign') {
    const sign = electSign(kept.map((k, i) => k.map((v) => v * deltas[i]!.input.params.weight)));
    steps.push({
      caption: 'Sign election: γ = sign(Σ w δ̂); only entries that agree with γ are averaged.',
      rows: [row('sign γ', sign, { text: Array.from(sign, (s) => (s > 0 ? '+' : '−')) })],
    });
  }
  const merged = delta(mergedOf(run), ins[0]!.values);
  const how = spec.consensus === 'sign' ? 'the weighted mean of the agreeing entries' : 'Σ w δ̂';
  steps.push({ caption: `Merged: δ = λ · ${how}${g.normalize ? ' / Σ w' : ''}; θ = θ₀ + δ.`, rows: [] });
  return {
    summary: `${spec.title} adds λ times the combined task vectors to θ₀.`,
    steps,
    facts,
    merged: row('merged δ', merged),
    mergedIsDelta: true,
  };
}

export function explainLinear(run: ToyRun): ExplainedBody {
  const ins = inputsOf(run);
  const g = global(run);
  const sum = ins.reduce((s, m) => s + m.input.params.weight, 0);
  return {
    summary: 'A weighted average of the models: θ = Σ w_i θ_i / Σ w_i.',
    steps: [{ caption: 'The toy models and their weights.', rows: ins.map((m) => row(withWeight(m), m.values)) }],
    facts: [{ label: g.normalize ? 'Σ w (divisor)' : 'divisor (normalize off)', value: fmt(g.normalize ? sum : 1) }],
    merged: row('merged θ', mergedOf(run)),
  };
}

export function explainSlerp(run: ToyRun): ExplainedBody {
  const [a, b] = inputsOf(run) as [ReturnType<typeof inputsOf>[number], ReturnType<typeof inputsOf>[number]];
  const cos = dot(a.values, b.values) / Math.sqrt(dot(a.values, a.values) * dot(b.values, b.values));
  const s = run.diagnostics[TOY_TENSOR]?.slerp;
  return {
    summary: 'Interpolates along the great circle between the two flattened tensors.',
    steps: [
      { caption: 'θ₀ and θ₁, each flattened to one vector.', rows: [row(a.label, a.values), row('θ₁', b.values)] },
    ],
    facts: [
      { label: 'cos Ω', value: fmt(cos, 3) },
      { label: 'Ω', value: degrees(cos) },
      { label: 't', value: fmt(global(run).t) },
      { label: 'θ = s₀ θ₀ + s₁ θ₁', value: s ? `s₀ = ${fmt(s.s0, 3)}, s₁ = ${fmt(s.s1, 3)}` : '' },
    ],
    merged: row('merged θ', mergedOf(run)),
  };
}
