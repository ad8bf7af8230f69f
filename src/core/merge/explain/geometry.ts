/**
 * Explanations of the methods that combine whole vectors by their geometry: model_stock (the
 * angle between task vectors sets t), nuslerp (the angle and t = w₁/(w₀ + w₁)), multislerp and
 * karcher (a mean direction on the sphere). The coefficients come from the methods' own functions
 * (modelStockT, nuslerpCoefficients, multislerpCoefficients, karcherCoefficients) applied to the
 * toy's Gram matrices; the merged row is the engine's output.
 */
import { type Grouping, groupsOf } from '../methods/grouped';
import { karcherCoefficients } from '../methods/karcher';
import { modelStockT } from '../methods/model-stock';
import { multislerpCoefficients } from '../methods/multislerp';
import { nuslerpCoefficients } from '../methods/nuslerp';
import { TOY_TENSOR, type ToyRun } from './toy';
import {
  type ExplainedBody,
  type ToyInput,
  degrees,
  fmt,
  gramCos,
  gramOver,
  inputsOf,
  mergedOf,
  row,
  taskVectors,
  withWeight,
} from './rows';

const SHAPE = (run: ToyRun) => run.plan.tensors.find((t) => t.name === TOY_TENSOR)!.shape;
const options = (run: ToyRun) => run.plan.tensors.find((t) => t.name === TOY_TENSOR)!.global.options ?? {};

/** The element indices of each group (the whole tensor, each row or each column). */
function groups(run: ToyRun, grouping: Grouping): number[][] {
  const shape = SHAPE(run);
  const n = shape.reduce((a, b) => a * b, 1);
  const g = groupsOf(shape, n, grouping);
  const out: number[][] = Array.from({ length: g.count }, () => []);
  for (let e = 0; e < n; e++) out[g.of(e)]!.push(e);
  return out;
}

const groupName = (grouping: Grouping, k: number, count: number) =>
  count === 1 ? '' : grouping === 'rows' ? `row ${k}: ` : `column ${k}: `;

/** The vectors a method combines: task vectors with a base, else the models themselves. */
function vectorsOf(run: ToyRun): { vs: ToyInput[]; hasBase: boolean } {
  const ins = inputsOf(run);
  const hasBase = options(run).has_base === true;
  return { vs: hasBase ? taskVectors(ins) : ins, hasBase };
}

export function explainModelStock(run: ToyRun): ExplainedBody {
  const vs = taskVectors(inputsOf(run));
  const n = vs.length;
  const grouping: Grouping = options(run).filter_wise === true ? 'rows' : 'all';
  const gs = groups(run, grouping);
  let apart = false;
  const facts = gs.flatMap((which, k) => {
    const g = gramOver(
      vs.map((v) => v.values),
      which,
    );
    let sum = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) sum += gramCos(g, n, i, j);
    const cos = sum / ((n * (n - 1)) / 2);
    const t = modelStockT(g, n);
    if (t < 0) apart = true;
    const name = groupName(grouping, k, gs.length);
    return [
      { label: `${name}cos θ (mean over pairs)`, value: `${fmt(cos, 3)} (${degrees(cos)})` },
      { label: `${name}t = N cos θ / (1 + (N − 1) cos θ)`, value: fmt(t, 3) },
    ];
  });
  return {
    summary:
      `Model Stock moves θ₀ towards the mean of the ${n} models by t, set by the angle between their task vectors: the more they agree, the further.` +
      (apart ? ' Here they point apart (cos θ < 0), so t < 0 and θ moves away from their mean.' : ''),
    steps: [
      { caption: 'Task vectors δ_i = θ_i − θ₀.', rows: vs.map((v) => row(v.label, v.values)) },
      { caption: 'θ = θ₀ + t · mean(δ_i) (per row with filter_wise).', rows: [] },
    ],
    facts,
    merged: row('merged θ', mergedOf(run)),
  };
}

export function explainNuslerp(run: ToyRun): ExplainedBody {
  const { vs, hasBase } = vectorsOf(run);
  const [w0, w1] = vs.map((v) => v.input.params.weight) as [number, number];
  const t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
  const o = options(run);
  const grouping: Grouping = o.nuslerp_flatten !== false ? 'all' : o.nuslerp_row_wise === true ? 'cols' : 'rows';
  const gs = groups(run, grouping);
  const facts = [{ label: 't = w₁ / (w₀ + w₁)', value: fmt(t, 3) }];
  gs.forEach((which, k) => {
    const g = gramOver(
      vs.map((v) => v.values),
      which,
    );
    const [c0, c1] = nuslerpCoefficients(t, g);
    facts.push({
      label: `${groupName(grouping, k, gs.length)}Ω; coefficients`,
      value: `${degrees(gramCos(g, 2, 0, 1))}; ${fmt(c0, 3)}, ${fmt(c1, 3)}`,
    });
  });
  return {
    summary: `NuSLERP interpolates between the two ${hasBase ? 'task vectors' : 'models'} along the sphere at t from their weights${hasBase ? ', then adds θ₀' : ''}.`,
    steps: [
      {
        caption: hasBase ? 'Task vectors δ = θ − θ₀.' : 'The two models.',
        rows: vs.map((v) => row(withWeight(v), v.values)),
      },
      {
        caption: `slerp = (sin((1−t)Ω) v₀ + sin(tΩ) v₁) / sin Ω over ${grouping === 'all' ? 'the flattened tensor' : `each ${grouping === 'rows' ? 'row' : 'column'}`}.`,
        rows: [],
      },
    ],
    facts,
    merged: row('merged θ', mergedOf(run)),
  };
}

export function explainMultislerp(run: ToyRun): ExplainedBody {
  const { vs, hasBase } = vectorsOf(run);
  const o = options(run);
  const raw = vs.map((v) => v.input.params.weight);
  const total = raw.reduce((s, w) => s + w, 0);
  const weights = o.normalize_weights !== false ? raw.map((w) => w / total) : raw;
  const all = groups(run, 'all')[0]!;
  const g = gramOver(
    vs.map((v) => v.values),
    all,
  );
  const n = vs.length;
  const c = n > 1 ? multislerpCoefficients(g, weights, Number(o.eps ?? 1e-8)) : [1];
  const facts = [
    { label: 'weights (normalized)', value: weights.map((w) => fmt(w, 3)).join(', ') },
    { label: '‖x_i‖', value: vs.map((_, i) => fmt(Math.sqrt(g[i * n + i]!), 3)).join(', ') },
  ];
  if (n > 1) facts.push({ label: `angle ${vs[0]!.label}, ${vs[1]!.label}`, value: degrees(gramCos(g, n, 0, 1)) });
  if (c)
    facts.push({ label: `θ = ${hasBase ? 'θ₀ + ' : ''}Σ c_i x_i`, value: `c = ${c.map((v) => fmt(v, 3)).join(', ')}` });
  return {
    summary: `Multi-SLERP takes the weighted mean direction of the ${hasBase ? 'task vectors' : 'models'} on the unit sphere and scales it by their weighted mean norm.`,
    steps: [
      {
        caption: hasBase ? 'Task vectors x_i = θ_i − θ₀.' : 'The models x_i.',
        rows: vs.map((v) => row(withWeight(v), v.values)),
      },
    ],
    facts,
    merged: row('merged θ', mergedOf(run)),
  };
}

export function explainKarcher(run: ToyRun): ExplainedBody {
  const vs = inputsOf(run);
  const o = options(run);
  const n = vs.length;
  const g = gramOver(
    vs.map((v) => v.values),
    groups(run, 'all')[0]!,
  );
  const c = karcherCoefficients(g, Number(o.max_iter ?? 10), Number(o.tol ?? 1e-5));
  // The angle of each model from the mean direction u = Σ c_j x_j / ‖·‖.
  const dotU = (i: number) => c.reduce((s, cj, j) => s + cj * g[i * n + j]!, 0);
  const uu = Math.sqrt(c.reduce((s, ci, i) => s + ci * dotU(i), 0));
  const angles = vs.map((_, i) => degrees(uu > 0 ? dotU(i) / (uu * Math.sqrt(g[i * n + i]!)) : 1));
  return {
    summary: `The Karcher mean: the point on the sphere whose angles to the ${n} models balance out (at most max_iter steps), scaled by their mean norm.`,
    steps: [{ caption: 'The models x_i (a base_model is one of them).', rows: vs.map((v) => row(v.label, v.values)) }],
    facts: [
      { label: 'angle of each model from the mean direction', value: angles.join(', ') },
      { label: 'θ = Σ c_i x_i', value: `c = ${c.map((v) => fmt(v, 3)).join(', ')}` },
    ],
    merged: row('merged θ', mergedOf(run)),
  };
}
