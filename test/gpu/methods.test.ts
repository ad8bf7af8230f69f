/**
 * Whole-merge parity: every merge method, WebGPU backend against the CPU reference, through the
 * one merge entry point, on tiny generated checkpoints in f32 / f16 / bf16.
 * f32 tensors agree to ≤ 1e-6 relative (of the tensor's scale); f16/bf16 tensors are identical
 * or differ by at most 1 ulp; the per-tensor notes (TIES/breadcrumbs thresholds, SLERP
 * coefficients) are equal, thresholds exactly. Also: chunked merges (odd chunk sizes), windowed
 * tensors on a folded grid, empty and 1-element tensors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/core/dtype';
import type { Checkpoint } from '../../src/core/formats/checkpoint';
import type { WebGpuBackend } from '../../src/gpu/backend';
import { randomFloats, tinyCheckpoint } from '../helpers/checkpoints';
import { type MergeResult, readOutputTensor, runMerge, valuesCheckpoint } from '../helpers/merge-harness';
import { TIGHT, gpuBackend, skipWithoutGpu } from './gpu-env';

const skip = await skipWithoutGpu();

const M = (w: number, d: number, g?: number) => `{weight: ${w}, density: ${d}${g !== undefined ? `, gamma: ${g}` : ''}}`;
export const RECIPES: Record<string, string> = {
  task_arithmetic: `merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7}}, {model: b, parameters: {weight: 0.4}}]\nparameters: {lambda: 0.9}`,
  ties: `merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: ${M(0.6, 0.3)}}, {model: b, parameters: ${M(1, 0.5)}}]`,
  dare_linear: `merge_method: dare_linear\nbase_model: base\nmodels: [{model: a, parameters: ${M(0.5, 0.4)}}, {model: b, parameters: ${M(0.5, 0.7)}}]\nrandom_seed: 11`,
  dare_ties: `merge_method: dare_ties\nbase_model: base\nmodels: [{model: a, parameters: ${M(0.6, 0.5)}}, {model: b, parameters: ${M(0.4, 0.7)}}]\nrandom_seed: 3`,
  breadcrumbs: `merge_method: breadcrumbs\nbase_model: base\nmodels: [{model: a, parameters: ${M(1, 0.6, 0.05)}}, {model: b, parameters: ${M(0.5, 0.5, 0.1)}}]`,
  breadcrumbs_ties: `merge_method: breadcrumbs_ties\nbase_model: base\nmodels: [{model: a, parameters: ${M(1, 0.5, 0.05)}}, {model: b, parameters: ${M(1, 0.5)}}]`,
  linear: `merge_method: linear\nmodels: [{model: base, parameters: {weight: 1}}, {model: a, parameters: {weight: 2}}, {model: b, parameters: {weight: 0.5}}]`,
  slerp: `merge_method: slerp\nbase_model: base\nmodels: [{model: a}]\nparameters: {t: [0.2, 0.8]}`,
};

/** GPU output equals CPU output: f32 ≤ 1e-6 relative to the tensor scale; 16-bit ≤ 1 ulp. */
export async function expectParity(gpu: MergeResult, cpu: MergeResult, names: Iterable<string>, label: string) {
  for (const name of names) {
    const g = await readOutputTensor(gpu.out, name);
    const c = await readOutputTensor(cpu.out, name);
    expect(g.dtype).toBe(c.dtype);
    expect(g.bytes.byteLength, `${label} ${name}`).toBe(c.bytes.byteLength);
    if (c.dtype === 'F32') {
      const scale = c.values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      let bad = 0;
      let first = '';
      for (let i = 0; i < c.values.length; i++) {
        const d = Math.abs(g.values[i]! - c.values[i]!);
        if (!(d <= 1e-6 * Math.max(Math.abs(c.values[i]!), scale))) {
          bad++;
          first ||= `[${i}] gpu ${g.values[i]} cpu ${c.values[i]}`;
        }
      }
      expect(bad, `${label} ${name} ${first}`).toBe(0);
    } else {
      const gb = new Uint16Array(g.bytes.slice().buffer);
      const cb = new Uint16Array(c.bytes.slice().buffer);
      let bad = 0;
      let first = '';
      for (let i = 0; i < cb.length; i++) {
        const same = gb[i] === cb[i] || ((gb[i]! ^ cb[i]!) < 0x8000 && Math.abs(gb[i]! - cb[i]!) <= 1);
        if (!same) {
          bad++;
          first ||= `[${i}] gpu 0x${gb[i]!.toString(16)} cpu 0x${cb[i]!.toString(16)}`;
        }
      }
      expect(bad, `${label} ${name} ${first}`).toBe(0);
    }
  }
  // Thresholds: exact. SLERP coefficients come from GPU dot products: ≤ 1e-6 relative.
  expect(Object.keys(gpu.summary.notes).sort()).toEqual(Object.keys(cpu.summary.notes).sort());
  for (const [tensor, notes] of Object.entries(cpu.summary.notes)) {
    for (const [k, v] of Object.entries(notes)) {
      const got = gpu.summary.notes[tensor]![k]!;
      if (k.startsWith('threshold')) expect(got, `${label} ${tensor} ${k}`).toBe(v);
      else expect(Math.abs(got - v), `${label} ${tensor} ${k}`).toBeLessThanOrEqual(1e-6 * Math.abs(v));
    }
  }
}

describe.skipIf(skip)('whole-merge parity, WebGPU vs CPU reference', () => {
  let gpu: WebGpuBackend;
  let tight: WebGpuBackend;
  beforeAll(async () => {
    gpu = await gpuBackend();
    tight = await gpuBackend(TIGHT);
  });
  afterAll(async () => {
    await gpu?.dispose();
    await tight?.dispose();
  });

  const tiny = async (dtype: DType): Promise<Checkpoint[]> => {
    const o = { dtype, hidden: 24, intermediate: 40, vocab: 61, layers: 2 };
    return [
      await tinyCheckpoint('base', { ...o, seed: 1 }),
      await tinyCheckpoint('a', { ...o, seed: 2, like: { seed: 1, scale: 0.05 } }),
      await tinyCheckpoint('b', { ...o, seed: 3, like: { seed: 1, scale: 0.08 } }),
    ];
  };

  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`every method on tiny ${dtype} checkpoints, whole tensors and odd-sized chunks`, async () => {
      const models = await tiny(dtype);
      for (const [method, recipe] of Object.entries(RECIPES)) {
        for (const chunkElements of [undefined, dtype === 'F32' ? 101 : 1001]) {
          const opts = chunkElements ? { chunkElements } : {};
          const c = await runMerge(recipe, models, opts);
          const g = await runMerge(recipe, models, { ...opts, backend: gpu });
          expect(g.summary.backend).toMatch(/^webgpu/);
          await expectParity(g, c, models[0]!.tensors.keys(), `${method} ${dtype} chunk=${chunkElements ?? 'whole'}`);
        }
      }
      const s = gpu.stats().storage;
      expect(s.allocatedBytes).toBe(s.inUseBytes + s.freeBytes);
    });
  }

  it('empty, 1-element, odd-sized and windowed (2-D grid) tensors, every method', async () => {
    const shapes: Record<string, number[]> = { empty: [0], one: [1], odd: [3, 111], wide: [7, 43_001] };
    const make = (name: string, seed: number, scale: number) =>
      valuesCheckpoint(
        name,
        Object.fromEntries(Object.entries(shapes).map(([t, shape], i) => {
          const n = shape.reduce((a, b) => a * b, 1);
          const base = randomFloats(n, 100 + i, 0.5);
          const noise = randomFloats(n, seed * 31 + i, scale);
          return [t, { shape, values: scale ? base.map((v, j) => v + noise[j]!) : base }];
        })),
        'BF16',
      );
    const models = [await make('base', 1, 0), await make('a', 2, 0.05), await make('b', 3, 0.07)];
    for (const [method, recipe] of Object.entries(RECIPES)) {
      const c = await runMerge(recipe, models);
      const g = await runMerge(recipe, models, { backend: tight });
      await expectParity(g, c, Object.keys(shapes), `${method} tight`);
      // chunked: 100_003-element chunks exceed the TIGHT window (131072 f32 / 65536 state) in part
      const cc = await runMerge(recipe, models, { chunkElements: 100_003 });
      const gc = await runMerge(recipe, models, { backend: tight, chunkElements: 100_003 });
      await expectParity(gc, cc, Object.keys(shapes), `${method} tight chunked`);
    }
  });
});
