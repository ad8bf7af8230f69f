/**
 * issue 19: the Recipe step's toy explanation of every method (src/core/merge/explain). For each
 * method: the merged toy row equals what the merge entry point produces on the same toy tensors
 * (checkpoints written here, with this file's own recipe), the rows the explanation shows account
 * for the merged row by the method's documented formula (worked here in f64), changing a parameter
 * changes the toy where it should, and every method in the registry has an explanation.
 */
import { describe, expect, it } from 'vitest';
import { EXPLAINERS, explainRecipe } from '../../src/core/merge/explain/explain';
import { TOY_BASE, TOY_DELTAS, TOY_LAYERS, TOY_TENSOR } from '../../src/core/merge/explain/toy';
import type { Explanation, ExplanationError } from '../../src/core/merge/explain/types';
import { METHODS } from '../../src/core/merge/methods/registry';
import { MERGE_METHODS, type MergeMethodName, type Recipe, type RecipeModel } from '../../src/core/recipe/types';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';

type Params = Record<string, number | boolean>;

/** A recipe as the Recipe form makes it: base `quick`, the other models `slow`, `third`, … */
function formRecipe(
  method: MergeMethodName,
  models: Params[],
  globals: Params = {},
  extra: Partial<Recipe> = {},
): Recipe {
  const names = ['slow', 'third', 'fourth'];
  const list: RecipeModel[] = models.map((parameters, i) => ({ model: names[i]!, parameters }));
  return {
    mergeMethod: method,
    baseModel: 'quick',
    models: list,
    parameters: globals,
    randomSeed: 0,
    vocabPolicy: 'error',
    ...extra,
  };
}

const sum = (a: readonly number[], b: readonly number[]) => Float32Array.from(a, (v, i) => v + b[i]!);
const FINE = TOY_DELTAS.map((d) => sum(TOY_BASE, d));

function explained(x: Explanation | ExplanationError): Explanation {
  if ('error' in x) throw new Error(`${x.method}: ${x.error}`);
  return x;
}

/** The same merge run here: toy base and fine-tunes (stand-ins get weight 1), through the merge entry point. */
async function engineToy(r: Recipe, count: number): Promise<Float32Array> {
  const spec = METHODS[r.mergeMethod];
  const shape = spec.family === 'task_vector' ? [8] : [2, 4];
  const letters = ['A', 'B', 'C'].slice(0, count);
  const first = r.models[0]?.parameters ?? {};
  const others = letters.map((name, k) => {
    const own = r.models[k]?.parameters ?? { ...first, ...('weight' in first ? { weight: 1 } : {}) };
    return { model: name, parameters: r.mergeMethod === 'sens_merging' ? { weight: 1, ...own } : own };
  });
  // linear has no base: its first model holds θ₀'s values.
  const linear = spec.family === 'linear';
  const values = (k: number) => (linear && k === 0 ? Float32Array.from(TOY_BASE) : FINE[k]!);
  const doc = {
    merge_method: r.mergeMethod === 'sens_merging' ? 'task_arithmetic' : r.mergeMethod,
    ...(linear ? {} : { base_model: 'base' }),
    models: others,
    parameters: r.parameters,
    random_seed: r.randomSeed,
  };
  const ckpts = await Promise.all([
    valuesCheckpoint('base', { [TOY_TENSOR]: { shape, values: TOY_BASE } }),
    ...letters.map((name, k) => valuesCheckpoint(name, { [TOY_TENSOR]: { shape, values: values(k) } })),
  ]);
  return (await runMerge(JSON.stringify(doc), ckpts)).tensor(TOY_TENSOR);
}

const close = (got: readonly number[], want: ArrayLike<number>, tol = 1e-6) => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!), `[${i}] ${v} vs ${want[i]}`).toBeLessThanOrEqual(tol));
};
const rowOf = (x: Explanation, label: RegExp) => x.steps.flatMap((s) => s.rows).filter((r) => label.test(r.label));
const fact = (x: Explanation, label: RegExp) => x.facts.find((f) => label.test(f.label))?.value;

/** One setting per method, as the form would make it, and how many toy models besides the base merge. */
const CASES: Record<MergeMethodName, { recipe: Recipe; count: number; changed?: Recipe }> = {
  linear: {
    recipe: formRecipe('linear', [{ weight: 0.7 }]),
    count: 2,
    changed: formRecipe('linear', [{ weight: 0.2 }]),
  },
  task_arithmetic: {
    recipe: formRecipe('task_arithmetic', [{ weight: 0.7 }], { lambda: 1 }),
    count: 2,
    changed: formRecipe('task_arithmetic', [{ weight: 0.7 }], { lambda: 2 }),
  },
  ties: {
    recipe: formRecipe('ties', [{ weight: 1, density: 0.5 }]),
    count: 2,
    changed: formRecipe('ties', [{ weight: 1, density: 0.25 }]),
  },
  dare_linear: {
    recipe: formRecipe('dare_linear', [{ weight: 0.7, density: 0.5 }]),
    count: 2,
    changed: formRecipe('dare_linear', [{ weight: 0.7, density: 0.5 }], {}, { randomSeed: 3 }),
  },
  dare_ties: {
    recipe: formRecipe('dare_ties', [{ weight: 1, density: 0.6 }]),
    count: 2,
    changed: formRecipe('dare_ties', [{ weight: 1, density: 0.3 }]),
  },
  breadcrumbs: {
    recipe: formRecipe('breadcrumbs', [{ weight: 1, density: 0.5, gamma: 0.125 }]),
    count: 2,
    changed: formRecipe('breadcrumbs', [{ weight: 1, density: 0.5, gamma: 0.25 }]),
  },
  breadcrumbs_ties: { recipe: formRecipe('breadcrumbs_ties', [{ weight: 1, density: 0.5, gamma: 0.125 }]), count: 2 },
  della: {
    recipe: formRecipe('della', [{ weight: 1, density: 0.5, epsilon: 0.1 }]),
    count: 2,
    changed: formRecipe('della', [{ weight: 1, density: 0.5, epsilon: 0.4 }]),
  },
  della_linear: {
    recipe: formRecipe('della_linear', [{ weight: 0.7, density: 0.6, epsilon: 0.2 }]),
    count: 2,
    changed: formRecipe('della_linear', [{ weight: 0.7, density: 0.3, epsilon: 0.2 }]),
  },
  sens_merging: {
    recipe: formRecipe('sens_merging', [{}], { lambda: 0.7 }),
    count: 2,
    changed: formRecipe('sens_merging', [{}], { lambda: 0.4 }),
  },
  sce: {
    recipe: formRecipe('sce', [{}], { select_topk: 0.5 }),
    count: 2,
    changed: formRecipe('sce', [{}], { select_topk: 1 }),
  },
  model_stock: {
    recipe: formRecipe('model_stock', [{}]),
    count: 2,
    changed: formRecipe('model_stock', [{}], { filter_wise: true }),
  },
  nuslerp: {
    recipe: formRecipe('nuslerp', [{ weight: 0.7 }]),
    count: 2,
    changed: formRecipe('nuslerp', [{ weight: 3 }]),
  },
  multislerp: {
    recipe: formRecipe('multislerp', [{ weight: 0.7 }, { weight: 1 }, { weight: 0.5 }]),
    count: 3,
    changed: formRecipe('multislerp', [{ weight: 2 }, { weight: 1 }, { weight: 0.5 }]),
  },
  karcher: {
    recipe: formRecipe('karcher', [{}, {}], { max_iter: 10 }),
    count: 2,
    changed: formRecipe('karcher', [{}, {}], { max_iter: 0 }),
  },
  nearswap: {
    recipe: formRecipe('nearswap', [{}], { t: 0.45 }),
    count: 1,
    changed: formRecipe('nearswap', [{}], { t: 0.25 }),
  },
  arcee_fusion: { recipe: formRecipe('arcee_fusion', [{}]), count: 1 },
  ram: { recipe: formRecipe('ram', [{}]), count: 2, changed: formRecipe('ram', [{}], { epsilon: 0.35 }) },
  ramplus_tl: {
    recipe: formRecipe('ramplus_tl', [{}], { r: 0.5, alpha: 0.5 }),
    count: 2,
    changed: formRecipe('ramplus_tl', [{}], { r: 1, alpha: 0.5 }),
  },
  passthrough: { recipe: formRecipe('passthrough', [{}], {}, { baseModel: undefined }), count: 1 },
  slerp: { recipe: formRecipe('slerp', [{}], { t: 0.3 }), count: 1, changed: formRecipe('slerp', [{}], { t: 0.8 }) },
  tsv: {
    recipe: formRecipe('tsv', [{ weight: 1 }], { lambda: 0.7 }),
    count: 2,
    changed: formRecipe('tsv', [{ weight: 1 }], { lambda: 1 }),
  },
  iso_c: {
    recipe: formRecipe('iso_c', [{ weight: 1 }], { lambda: 0.7 }),
    count: 2,
    changed: formRecipe('iso_c', [{ weight: 1 }], { lambda: 1.2 }),
  },
  iso_cts: { recipe: formRecipe('iso_cts', [{ weight: 1 }], { lambda: 0.7 }), count: 2 },
  lore: {
    recipe: formRecipe('lore', [{ weight: 0.7 }], { mu: 0.1 }),
    count: 2,
    changed: formRecipe('lore', [{ weight: 0.7 }], { mu: 0.5 }),
  },
  twin: {
    recipe: formRecipe('twin', [{ weight: 0.7 }], { rank: 1 }),
    count: 2,
    changed: formRecipe('twin', [{ weight: 0.7 }], { rank: 2 }),
  },
  low_rank_task_arithmetic: {
    recipe: formRecipe('low_rank_task_arithmetic', [{ weight: 0.7 }], { rank: 1 }),
    count: 2,
    changed: formRecipe('low_rank_task_arithmetic', [{ weight: 0.7 }], { rank: 2 }),
  },
};

describe('toy explanations', () => {
  it('every registry method has an explainer and a case here', () => {
    for (const m of MERGE_METHODS) {
      expect(EXPLAINERS[m], m).toBeTypeOf('function');
      expect(CASES[m], m).toBeDefined();
    }
    expect(Object.keys(METHODS).sort()).toEqual([...MERGE_METHODS].sort());
  });

  for (const m of MERGE_METHODS.filter((n) => n !== 'passthrough'))
    it(`${m}: the merged toy row is the engine's merge of the toy${CASES[m].changed ? ', and follows its parameter' : ''}`, async () => {
      const c = CASES[m];
      const x = explained(await explainRecipe(c.recipe));
      const engine = await engineToy(c.recipe, c.count);
      const want = x.mergedIsDelta ? Float32Array.from(engine, (v, i) => v - Math.fround(TOY_BASE[i]!)) : engine;
      expect(x.mergedIsDelta).toBe(METHODS[m].family === 'task_vector');
      close(x.merged.values, want);
      expect(x.summary.length).toBeGreaterThan(20);
      expect(x.steps.length).toBeGreaterThan(0);
      if (c.changed) {
        const y = explained(await explainRecipe(c.changed));
        expect(y.merged.values, `${m}: the toy ignores the changed parameter`).not.toEqual(x.merged.values);
        close(
          y.merged.values,
          Array.from(await engineToy(c.changed, c.count), (v, i) =>
            y.mergedIsDelta ? v - Math.fround(TOY_BASE[i]!) : v,
          ),
        );
      }
    });
});

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i]!, 0);
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
const minus = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a, (v, i) => v - b[i]!);
const BASE32 = Float32Array.from(TOY_BASE);
const D = TOY_DELTAS.map((_, k) => Array.from(Float32Array.from(minus(FINE[k]!, BASE32))));

describe('what the toy rows show accounts for the merged row (mergekit formulas in f64)', () => {
  it('ties: λ times the weighted mean of the kept entries that agree with the elected sign', async () => {
    const x = explained(await explainRecipe(formRecipe('ties', [{ weight: 0.7, density: 0.5 }], { lambda: 1.5 })));
    const kept = rowOf(x, /^kept/).map((r) => r.values);
    const sign = rowOf(x, /^sign/)[0]!.values;
    expect(kept.map((k) => k.filter((v) => v !== 0).length)).toEqual([4, 4]); // int(0.5 · 8) = 4
    const ws = [0.7, 1];
    const want = sign.map((g, e) => {
      const agree = kept.map((k, t) => (Math.sign(k[e]! * ws[t]!) === g ? t : -1)).filter((t) => t >= 0);
      const den = agree.reduce((s, t) => s + ws[t]!, 0);
      return den ? (1.5 * agree.reduce((s, t) => s + ws[t]! * kept[t]![e]!, 0)) / den : 0;
    });
    close(x.merged.values, want);
  });

  it('della: keep probabilities span density ± ε by rank; dropped cells are zero, kept ones rescaled', async () => {
    const x = explained(await explainRecipe(formRecipe('della', [{ weight: 1, density: 0.5, epsilon: 0.2 }])));
    const p = rowOf(x, /^keep p/)[0]!.values;
    expect(Math.min(...p)).toBeCloseTo(0.3, 6);
    expect(Math.max(...p)).toBeCloseTo(0.7, 6);
    expect(p[0]).toBeCloseTo(0.7, 6); // |δ_A[0]| = 0.9 is the largest
    const kept = rowOf(x, /^kept/)[0]!;
    kept.values.forEach((v, e) => expect(v === 0).toBe(kept.marks?.[e] === 'dropped' || D[0]![e] === 0));
    const ratio =
      D[0]!.reduce((s, v) => s + Math.abs(v), 0) / D[0]!.reduce((s, v, e) => s + (kept.values[e] ? Math.abs(v) : 0), 0);
    kept.values.forEach((v, e) => v && expect(v).toBeCloseTo(D[0]![e]! * ratio, 5));
  });

  it('model_stock: t from the angle between the task vectors, θ = θ₀ + t · mean δ', async () => {
    const x = explained(await explainRecipe(CASES.model_stock.recipe));
    const cos = dot(D[0]!, D[1]!) / (norm(D[0]!) * norm(D[1]!));
    const t = (2 * cos) / (1 + cos);
    expect(Number(fact(x, /^t =/))).toBeCloseTo(t, 3);
    expect(fact(x, /cos θ/)).toMatch(`${Number(cos.toFixed(3))} (`);
    close(
      x.merged.values,
      TOY_BASE.map((b, e) => b + (t / 2) * (D[0]![e]! + D[1]![e]!)),
      1e-5,
    );
    const rows = explained(await explainRecipe(CASES.model_stock.changed!));
    expect(rows.facts.filter((f) => /^row \d: t/.test(f.label))).toHaveLength(2); // filter_wise: one t per row
  });

  it('nuslerp: t = w₁/(w₀ + w₁) and the angle between the task vectors', async () => {
    const x = explained(await explainRecipe(CASES.nuslerp.recipe));
    const t = 1 / 1.7;
    expect(Number(fact(x, /^t =/))).toBeCloseTo(t, 3);
    const omega = Math.acos(dot(D[0]!, D[1]!) / (norm(D[0]!) * norm(D[1]!)));
    const [c0, c1] = [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)];
    close(
      x.merged.values,
      TOY_BASE.map((b, e) => b + c0 * D[0]![e]! + c1 * D[1]![e]!),
      1e-5,
    );
  });

  it('karcher: the merged tensor has the models’ mean norm', async () => {
    const x = explained(await explainRecipe(CASES.karcher.recipe));
    expect(norm(x.merged.values)).toBeCloseTo((norm(TOY_BASE) + norm(FINE[0]!) + norm(FINE[1]!)) / 3, 5);
    expect(fact(x, /angle/)!.split(',')).toHaveLength(3);
  });

  it('multislerp: |θ − θ₀| is the weighted mean norm of the task vectors', async () => {
    const x = explained(await explainRecipe(CASES.multislerp.recipe));
    const ws = [0.7, 1, 0.5].map((w) => w / 2.2);
    expect(norm(minus(x.merged.values, TOY_BASE))).toBeCloseTo(
      ws.reduce((s, w, k) => s + w * norm(D[k]!), 0),
      4,
    );
  });

  it('slerp: s₀, s₁ from Ω and t', async () => {
    const x = explained(await explainRecipe(CASES.slerp.recipe));
    const omega = Math.acos(dot(TOY_BASE, FINE[0]!) / (norm(TOY_BASE) * norm(FINE[0]!)));
    const [s0, s1] = [Math.sin(0.7 * omega) / Math.sin(omega), Math.sin(0.3 * omega) / Math.sin(omega)];
    close(
      x.merged.values,
      TOY_BASE.map((b, e) => s0 * b + s1 * FINE[0]![e]!),
      1e-5,
    );
    expect(fact(x, /s₀/)).toBe(`s₀ = ${Number(s0.toFixed(3))}, s₁ = ${Number(s1.toFixed(3))}`);
  });

  it('nearswap: the marked entries are those within t, and take θ₁ whole', async () => {
    const x = explained(await explainRecipe(CASES.nearswap.recipe));
    const marks = rowOf(x, /^w$/)[0]!.marks!;
    D[0]!.forEach((d, e) => {
      expect(marks[e] === 'swapped', `[${e}]`).toBe(Math.abs(d) <= 0.45);
      const w = Math.min(1, 0.45 / Math.max(Math.abs(d), 1e-6));
      expect(x.merged.values[e]).toBeCloseTo(TOY_BASE[e]! + w * d, 6);
    });
  });

  it('arcee_fusion: the selected entries, and only they, take θ₁', async () => {
    const x = explained(await explainRecipe(CASES.arcee_fusion.recipe));
    const marks = x.merged.marks!;
    expect(marks.filter(Boolean).length).toBeGreaterThan(0);
    x.merged.values.forEach((v, e) => expect(v).toBeCloseTo(marks[e] ? FINE[0]![e]! : TOY_BASE[e]!, 6));
    const imp = rowOf(x, /importance/)[0]!.values;
    const threshold = Number(fact(x, /threshold/));
    // The threshold is shown to 4 decimals: entries clear of it by more are selected exactly when above it.
    imp.forEach((v, e) => Math.abs(v - threshold) > 1e-4 && expect(Boolean(marks[e]), `[${e}]`).toBe(v > threshold));
  });

  it('ram: c counts |δ| > ε; one alone keeps its δ, several are averaged (ε follows the control)', async () => {
    for (const epsilon of [1e-5, 0.35]) {
      const x = explained(await explainRecipe(formRecipe('ram', [{}], { epsilon })));
      const c = rowOf(x, /^c$/)[0]!.values;
      D[0]!.forEach((_, e) => {
        const counting = [D[0]![e]!, D[1]![e]!].filter((d) => Math.abs(d) > epsilon);
        expect(c[e], `[${e}] ε ${epsilon}`).toBe(counting.length);
        const want = counting.length ? counting.reduce((a, b) => a + b, 0) / counting.length : 0;
        expect(x.merged.values[e]).toBeCloseTo(TOY_BASE[e]! + want, 6);
      });
    }
  });

  it('passthrough with slices: which layer of which model each output layer is, and the scale', async () => {
    const recipe = formRecipe(
      'passthrough',
      [{}, {}],
      {},
      {
        baseModel: undefined,
        models: [
          { model: 'quick', parameters: {} },
          { model: 'slow', parameters: {} },
        ],
        slices: [
          { model: 'quick', layerRange: [0, 2], parameters: {} },
          { model: 'slow', layerRange: [1, 4], parameters: { scale: 0.5 } },
        ],
      },
    );
    const x = explained(await explainRecipe(recipe));
    expect(x.merged.text).toEqual(['quick.0', 'quick.1', 'slow.1', 'slow.2', 'slow.3']);
    expect(x.merged.values).toEqual([10, 11, 0.5 * 21, 0.5 * 22, 0.5 * 23]);
    const labels = x.steps[0]!.rows.map((r) => r.label);
    expect(labels[0]).toMatch(/embed_tokens ← quick/);
    expect(labels.at(-1)).toMatch(/lm_head ← slow lm_head × 0.5/);
    expect(fact(x, /output layers/)).toBe('5');
    // Without slices: the one model, every tensor × scale.
    const plain = explained(
      await explainRecipe(formRecipe('passthrough', [{}], { scale: 2 }, { baseModel: undefined })),
    );
    expect(plain.merged.text).toEqual(Array.from({ length: TOY_LAYERS }, (_, l) => `slow.${l}`));
    expect(plain.merged.values).toEqual(Array.from({ length: TOY_LAYERS }, (_, l) => 2 * (10 + l)));
  });

  it('says which recipe model each toy model stands for, and when the engine refuses the toy', async () => {
    const x = explained(await explainRecipe(CASES.ties.recipe));
    expect(x.notes.join(' ')).toMatch(/quick \(θ₀\), slow \(θ_A\)/);
    expect(x.notes.join(' ')).toMatch(/θ_B stands in/);
    const refused = await explainRecipe(formRecipe('della', [{ weight: 1, density: 0.9, epsilon: 0.2 }]));
    expect('error' in refused && refused.error).toMatch(/density ± epsilon/);
  });
});
