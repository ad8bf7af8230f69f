/**
 * issue 19: what each toy explanation shows accounts for its merged row: the kept entries and the
 * elected sign for TIES, DELLA's keep probabilities, the angle and t of Model Stock and NuSLERP, the
 * norms of Karcher and Multi-SLERP, SLERP's coefficients, NearSwap's and Arcee Fusion's picks, RAM's
 * counts, passthrough's layers, each checked against mergekit's formula worked here in f64.
 */
import { describe, expect, it } from 'vitest';
import { explainRecipe } from '../../src/core/merge/explain/explain';
import { TOY_BASE, TOY_LAYERS } from '../../src/core/merge/explain/toy';
import {
  CASES,
  D,
  FINE,
  close,
  dot,
  explained,
  fact,
  formRecipe,
  minus,
  norm,
  rowOf,
} from '../helpers/explainer-cases';

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
    // Many layers: one row per run of consecutive layers from one model (first and last values).
    const long = explained(
      await explainRecipe({
        ...recipe,
        slices: [
          { model: 'quick', layerRange: [0, 10], parameters: {} },
          { model: 'slow', layerRange: [4, 12], parameters: { scale: 0.5 } },
        ],
      }),
    );
    const spans = long.steps[0]!.rows.filter((r) => /^out layers/.test(r.label));
    expect(spans.map((r) => [r.label, ...r.values])).toEqual([
      ['out layers 0–9 ← quick layers 0–9', 10, 19],
      ['out layers 10–17 ← slow layers 4–11 × 0.5', 12, 15.5],
    ]);
    expect(long.merged.text).toHaveLength(18);
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
