/**
 * The layer × module heatmaps of a merge's diagnostics: real TA and TIES merges of small
 * checkpoints on the CPU backend, each cell checked against the figure computed directly from the
 * tensors (‖δ‖, cos(δ_a, δ_b), the sign-conflict fraction, the trimmed fraction).
 */
import { describe, expect, it } from 'vitest';
import {
  HEATMAP_METRICS,
  MODULES,
  type TensorDiagnostics,
  heatmapOf,
  layerModuleOf,
  metricValue,
  signConflictCount,
} from '../../src/core/merge/diagnostics';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { randomFloats } from '../helpers/checkpoints';
import { runMerge, valuesCheckpoint } from '../helpers/merge-harness';

const LAYERS = 2;
const SIZE = 24;
const moduleTensor = (layer: number, m: string) =>
  `model.layers.${layer}.${['q', 'k', 'v', 'o'].includes(m) ? 'self_attn' : 'mlp'}.${m}_proj.weight`;
const NAMES = [
  'model.embed_tokens.weight',
  ...Array.from({ length: LAYERS }, (_, l) => [
    ...MODULES.map((m) => moduleTensor(l, m)),
    `model.layers.${l}.input_layernorm.weight`,
  ]).flat(),
];

/** Every tensor of model `seed` (distinct values per tensor). */
function values(seed: number): Map<string, Float32Array> {
  return new Map(NAMES.map((n, i) => [n, randomFloats(SIZE, seed * 1000 + i, 1)]));
}

async function checkpoint(name: string, vals: Map<string, Float32Array>) {
  return valuesCheckpoint(
    name,
    Object.fromEntries([...vals].map(([n, v]) => [n, { shape: [4, SIZE / 4], values: v }])),
  );
}

const delta = (a: Float32Array, b: Float32Array) => Float64Array.from(a, (x, i) => x - b[i]!);
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (a: Float64Array) => Math.sqrt(dot(a, a));
function signConflictFraction(a: Float64Array, b: Float64Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if ((a[i]! > 0 && b[i]! < 0) || (a[i]! < 0 && b[i]! > 0)) n++;
  return n / a.length;
}

/** The CPU backend without its sign-conflict reduction (as the WebGPU backend is). */
function withoutSignConflicts(): CpuBackend {
  const be = new CpuBackend();
  Object.defineProperty(be, 'signConflicts', { value: undefined });
  return be;
}

async function mergedDiagnostics(method: string, params: string, global = '', backend = new CpuBackend()) {
  const base = values(1);
  const a = values(2);
  const b = values(3);
  const ckpts = [await checkpoint('base', base), await checkpoint('a', a), await checkpoint('b', b)];
  const r = await runMerge(
    `merge_method: ${method}\nbase_model: base\nmodels:\n  - model: a\n    parameters: {${params}}\n  - model: b\n    parameters: {${params}}\n${global}`,
    ckpts,
    { diagnostics: true, backend },
  );
  const records = Object.entries(r.summary.diagnostics).map(([tensor, diagnostics]) => ({ tensor, diagnostics }));
  return { base, a, b, records };
}

describe('layer × module heatmaps', () => {
  it('places a tensor by its layer and module, and leaves other tensors out', () => {
    expect(layerModuleOf('model.layers.12.self_attn.k_proj.weight')).toEqual({ layer: 12, module: 'k' });
    expect(layerModuleOf('model.layers.0.mlp.down_proj.weight')).toEqual({ layer: 0, module: 'down' });
    expect(layerModuleOf('model.layers.0.self_attn.q_proj.bias')).toBeUndefined();
    expect(layerModuleOf('model.layers.0.input_layernorm.weight')).toBeUndefined();
    expect(layerModuleOf('model.embed_tokens.weight')).toBeUndefined();
  });

  it.each([
    ['with', new CpuBackend()],
    ['without', withoutSignConflicts()],
  ])(
    'TA: norms, cosines and sign conflicts per cell equal the direct computation (backend %s a sign-conflict reduction)',
    async (_, backend) => {
      expect(!!backend.signConflicts).toBe(_ === 'with');
      const { base, a, b, records } = await mergedDiagnostics('task_arithmetic', 'weight: 0.5', '', backend);
      const maps = Object.fromEntries(HEATMAP_METRICS.map((m) => [m, heatmapOf(records, m)]));
      expect(maps.trimmed).toBeUndefined(); // task arithmetic trims nothing
      for (const metric of ['norm', 'cosine', 'signConflicts'] as const) {
        const map = maps[metric]!;
        expect(map.layers).toEqual([0, 1]);
        expect(map.rows.map((r) => r.length)).toEqual([7, 7]);
        for (const [i, layer] of map.layers.entries())
          for (const [j, m] of MODULES.entries()) {
            const tensor = moduleTensor(layer, m);
            const cell = map.rows[i]![j]!;
            expect(cell.tensor).toBe(tensor);
            const da = delta(a.get(tensor)!, base.get(tensor)!);
            const db = delta(b.get(tensor)!, base.get(tensor)!);
            const want =
              metric === 'norm'
                ? (norm(da) + norm(db)) / 2
                : metric === 'cosine'
                  ? dot(da, db) / (norm(da) * norm(db))
                  : signConflictFraction(da, db);
            expect(cell.value, `${metric} ${tensor}`).toBeCloseTo(want, 5);
          }
        const all = map.rows.flat().map((c) => c!.value);
        expect(map.min).toBe(Math.min(...all));
        expect(map.max).toBe(Math.max(...all));
      }
    },
  );

  it('TIES: the trimmed fraction per cell is 1 − density, and the statistics are of the untrimmed task vectors', async () => {
    const { base, a, records } = await mergedDiagnostics(
      'ties',
      'weight: 1, density: 0.25',
      'parameters: {lambda: 1}\n',
    );
    const trimmed = heatmapOf(records, 'trimmed')!;
    expect(trimmed.rows.flat().map((c) => c!.value)).toEqual(new Array(LAYERS * 7).fill(0.75));
    const norms = heatmapOf(records, 'norm')!;
    const tensor = moduleTensor(1, 'gate');
    const cell = norms.rows[1]![MODULES.indexOf('gate')]!;
    expect(cell.diagnostics.norms[0]!.value).toBeCloseTo(norm(delta(a.get(tensor)!, base.get(tensor)!)), 5);
  });

  it('counts sign conflicts of 3 task vectors with or without the backend reduction, zeros not counted', async () => {
    const xs = [
      [1, -2, 0, 3, 0, -1],
      [2, 0, -1, -3, 0, -2],
      [0, 1, 1, 3, 0, -1],
    ].map((v) => Float32Array.from(v));
    // element 0: +,+ · 1: −,+ conflict · 2: −,+ conflict · 3: +,−,+ conflict · 4: none · 5: −,−,−
    expect(await signConflictCount(new CpuBackend(), xs)).toBe(3);
    expect(await signConflictCount(withoutSignConflicts(), xs)).toBe(3);
  });

  it('one task vector: no cosine or sign-conflict map, and missing figures are absent cells', () => {
    const d: TensorDiagnostics = { norms: [{ model: 'a', value: 2 }], cosines: [], trimmed: [], thresholds: [] };
    const records = [{ tensor: moduleTensor(3, 'v'), diagnostics: d }];
    expect(heatmapOf(records, 'cosine')).toBeUndefined();
    expect(heatmapOf(records, 'signConflicts')).toBeUndefined();
    expect(metricValue(d, 'norm')).toBe(2);
    const map = heatmapOf(records, 'norm')!;
    expect(map.layers).toEqual([3]);
    expect(map.rows[0]!.map((c) => c?.value)).toEqual([
      undefined,
      undefined,
      2,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
