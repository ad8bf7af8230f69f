/**
 * mergekit-parity cases shared by the CPU and WebGPU tests: small checkpoints, a recipe, and the
 * expected tensors from the independent mergekit reference (mergekit-reference.ts). Covers every
 * sparsifying method with rescale on and off, normalize on and off, λ ≠ 1, negative weights,
 * gradients with filters over depth, tied embeddings, f32 and bf16 inputs, and tie-heavy bf16 trims.
 */
import { expect } from 'vitest';
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import type { TensorBackend } from '../../src/core/merge/backend';
import { randomFloats } from './checkpoints';
import { type MergeResult, runMerge, valuesCheckpoint } from './merge-harness';
import { type RefRecipe, mergeRef, refYaml } from './mergekit-reference';

type Tensors = Record<string, { shape: number[]; values: number[] }>;

export interface ParityCase {
  readonly name: string;
  readonly recipe: RefRecipe;
  readonly dtype: DType;
  /** Model name → its tensors (a model may lack lm_head: tied embeddings). */
  readonly models: Record<string, Tensors>;
  readonly numLayers: number;
}

const LAYERS = 3;
const H = 12;

/** A small decoder-shaped model: embeddings, LAYERS layers, final norm and (unless tied) lm_head. */
function decoderModel(seed: number, scale: number, opts: { tied?: boolean; ties?: boolean } = {}): Tensors {
  const shapes: Record<string, number[]> = {
    'model.embed_tokens.weight': [10, H],
    ...Object.fromEntries(
      Array.from({ length: LAYERS }, (_, l) => [
        [`model.layers.${l}.mlp.up_proj.weight`, [16, H]],
        [`model.layers.${l}.input_layernorm.weight`, [H]],
      ]).flat(),
    ),
    'model.norm.weight': [H],
    ...(opts.tied ? {} : { 'lm_head.weight': [10, H] }),
  };
  const out: Tensors = {};
  Object.entries(shapes).forEach(([name, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const base = randomFloats(n, 1000 + i, 1);
    const noise = randomFloats(n, seed * 97 + i, scale);
    // Tie-heavy: task vectors on a coarse grid (multiples of 1/8), so many |δ| are equal.
    const values = base.map((v, j) =>
      opts.ties ? Math.round(v * 8) / 8 + Math.round(noise[j]! * 8) / 8 : v + noise[j]!,
    );
    out[name] = { shape, values: [...values] };
  });
  return out;
}

const trio = (opts: { tied?: boolean; ties?: boolean } = {}) => ({
  base: decoderModel(0, 0, opts),
  a: decoderModel(2, 0.1, opts),
  b: decoderModel(3, 0.15, opts),
});

const SPARSIFYING = ['ties', 'breadcrumbs', 'breadcrumbs_ties', 'dare_linear', 'dare_ties'] as const;

function methodCases(): ParityCase[] {
  const out: ParityCase[] = [];
  for (const method of SPARSIFYING)
    for (const rescale of [true, false])
      for (const normalize of [true, false]) {
        const gamma = method.startsWith('breadcrumbs') ? { gamma: 0.1 } : {};
        out.push({
          name: `${method} rescale=${rescale} normalize=${normalize} λ=0.8, a negative weight`,
          recipe: {
            method,
            base: 'base',
            models: [
              { name: 'a', weight: 0.7, density: 0.4, ...gamma },
              { name: 'b', weight: -0.3, density: 0.6, ...gamma },
            ],
            lambda: 0.8,
            normalize,
            rescale,
            seed: 5,
          },
          dtype: rescale === normalize ? 'F32' : 'BF16',
          models: trio(),
          numLayers: LAYERS,
        });
      }
  return out;
}

export const PARITY_CASES: readonly ParityCase[] = [
  ...methodCases(),
  {
    name: 'gradients with filters over depth (TIES, rescale): final norm and lm_head at t = 0',
    recipe: {
      method: 'ties',
      base: 'base',
      models: [
        {
          name: 'a',
          weight: [{ filter: 'mlp', value: [0.2, 0.9] }, { value: [1, 0.5, 0.1] }],
          density: [0.3, 0.8],
        },
        { name: 'b', weight: [0.6, 0.1], density: [{ filter: 'norm', value: 0.5 }, { value: [0.9, 0.2] }] },
      ],
      lambda: 1.2,
      rescale: true,
    },
    dtype: 'F32',
    models: trio(),
    numLayers: LAYERS,
  },
  {
    name: 'tied embeddings: lm_head materialised from embed_tokens, gradient at t = 0 (breadcrumbs_ties)',
    recipe: {
      method: 'breadcrumbs_ties',
      base: 'base',
      models: [
        { name: 'a', weight: [0.4, 1], density: 0.5, gamma: 0.1 },
        { name: 'b', weight: [1, 0.2], density: [0.7, 0.3], gamma: 0.1 },
      ],
      rescale: true,
    },
    dtype: 'BF16',
    models: { base: decoderModel(0, 0, { tied: true }), a: decoderModel(2, 0.1), b: decoderModel(3, 0.15) },
    numLayers: LAYERS,
  },
  ...(['ties', 'breadcrumbs'] as const).map((method): ParityCase => ({
    name: `bf16 task vectors full of ties: ${method} keeps exactly int(density·n), lowest index first`,
    recipe: {
      method,
      base: 'base',
      models: [{ name: 'a', weight: 1, density: 0.35, ...(method === 'breadcrumbs' ? { gamma: 0.2 } : {}) }],
    },
    dtype: 'BF16',
    models: { base: decoderModel(0, 0, { ties: true }), a: decoderModel(2, 0.3, { ties: true }) },
    numLayers: LAYERS,
  })),
];

/** The case's inputs as the lab reads them (decoded from `dtype`). */
function decoded(c: ParityCase): Record<string, Record<string, number[]>> {
  return Object.fromEntries(
    Object.entries(c.models).map(([m, ts]) => [
      m,
      Object.fromEntries(
        Object.entries(ts).map(([n, t]) => [
          n,
          [...decodeToF32(encodeFromF32(Float32Array.from(t.values), c.dtype), c.dtype)],
        ]),
      ),
    ]),
  );
}

/** Expected output tensors: the mergekit reference per tensor of the base (lm_head from a tied base's embeddings). */
export function expectedTensors(c: ParityCase): Record<string, number[]> {
  const inputs = decoded(c);
  const names = new Set(Object.values(c.models).flatMap((m) => Object.keys(m)));
  const source = (model: string, name: string) =>
    inputs[model]![name] ?? (name === 'lm_head.weight' ? inputs[model]!['model.embed_tokens.weight'] : undefined)!;
  return Object.fromEntries(
    [...names].map((name) => [
      name,
      mergeRef(c.recipe, name, Object.fromEntries(Object.keys(c.models).map((m) => [m, source(m, name)])), c.numLayers),
    ]),
  );
}

/** Runs the case through the real merge entry point on `backend` (CPU reference when undefined). */
export async function runCase(
  c: ParityCase,
  opts: { backend?: TensorBackend<unknown>; chunkElements?: number } = {},
): Promise<MergeResult> {
  const models = await Promise.all(Object.entries(c.models).map(([m, ts]) => valuesCheckpoint(m, ts, c.dtype)));
  return runMerge(refYaml(c.recipe), models, opts);
}

/** Every output tensor within 1e-6 of the reference, relative to max(1, the tensor's scale). */
export async function expectMatchesReference(c: ParityCase, r: MergeResult, label: string): Promise<void> {
  for (const [name, want] of Object.entries(expectedTensors(c))) {
    const got = await r.tensor(name);
    expect(got.length, `${label} ${name}`).toBe(want.length);
    const scale = Math.max(1, ...want.map(Math.abs));
    const worst = want.reduce((m, w, i) => Math.max(m, Math.abs(got[i]! - w)), 0);
    expect(worst, `${label} ${name}`).toBeLessThanOrEqual(1e-6 * scale);
  }
}
