/**
 * Independent f64 statements of mergekit's model_stock, nuslerp, multislerp and karcher
 * (merge_methods/*.py) on small tensors, element by element as mergekit writes them, and the cases
 * the CPU and WebGPU tests share.
 */
import { type DType, decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { randomFloats } from './checkpoints';
import { valuesCheckpoint } from './merge-harness';

export const GROUPED_SHAPES: Readonly<Record<string, readonly number[]>> = { w: [4, 5], b: [7] };

export interface GroupedCase {
  readonly name: string;
  readonly method: 'model_stock' | 'nuslerp' | 'multislerp' | 'karcher';
  readonly models: readonly { name: string; weight?: number }[];
  readonly base?: string;
  readonly options: Readonly<Record<string, boolean | number>>;
  readonly dtype: DType;
  /** Model name → how its values derive from another's (a colinear pair), else random. */
  readonly colinear?: boolean;
  readonly yaml: string;
  checkpoints(): Promise<Awaited<ReturnType<typeof valuesCheckpoint>>[]>;
}

export function groupedStored(c: Omit<GroupedCase, 'yaml' | 'checkpoints'>, m: string, name: string): number[] {
  const n = GROUPED_SHAPES[name]!.reduce((a, b) => a * b, 1);
  const k = ['base', 'a', 'b', 'c'].indexOf(m);
  const base = randomFloats(n, 60 + name.length);
  const own = randomFloats(n, 61 + 5 * k + name.length);
  // colinear: a and b lie on one line through the base (δ_b = 2 δ_a).
  const raw =
    k === 0
      ? base
      : base.map(
          (v, i) =>
            v + (c.colinear && k === 2 ? 2 : 1) * 0.4 * (c.colinear ? randomFloats(n, 66 + name.length)[i]! : own[i]!),
        );
  return [...decodeToF32(encodeFromF32(raw, c.dtype), c.dtype)];
}

function make(c: Omit<GroupedCase, 'yaml' | 'checkpoints'>): GroupedCase {
  const opts = Object.entries(c.options).map(([k, v]) => `${k}: ${v}`);
  const yaml = [
    `merge_method: ${c.method}`,
    ...(c.base ? [`base_model: ${c.base}`] : []),
    `models: [${c.models.map((m) => `{model: ${m.name}${m.weight !== undefined ? `, parameters: {weight: ${m.weight}}` : ''}}`).join(', ')}]`,
    ...(opts.length ? [`parameters: {${opts.join(', ')}}`] : []),
    'dtype: float32',
  ].join('\n');
  const names = [...(c.base ? [c.base] : []), ...c.models.map((m) => m.name)];
  const checkpoints = () =>
    Promise.all(
      names.map((m) =>
        valuesCheckpoint(
          m,
          Object.fromEntries(
            Object.entries(GROUPED_SHAPES).map(([t, shape]) => [
              t,
              { shape: [...shape], values: groupedStored(c, m, t) },
            ]),
          ),
          c.dtype,
        ),
      ),
    );
  return { ...c, yaml, checkpoints };
}

/** Element indices of each group: the flattened tensor, rows (dim −1) or columns (dim 0). */
function groups(shape: readonly number[], kind: 'all' | 'rows' | 'cols'): number[][] {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = Array.from({ length: n }, (_, i) => i);
  if (kind === 'all' || shape.length < 2) return [idx];
  const [r, c] = shape as [number, number];
  if (kind === 'rows') return Array.from({ length: r }, (_, i) => idx.slice(i * c, (i + 1) * c));
  return Array.from({ length: c }, (_, j) => Array.from({ length: r }, (_, i) => i * c + j));
}

const dot = (a: number[], b: number[], g: number[]) => g.reduce((s, i) => s + a[i]! * b[i]!, 0);

function modelStockRef(c: GroupedCase, name: string, shape: readonly number[]): number[] {
  const w0 = groupedStored(c, c.base!, name);
  const ws = c.models.map((m) => groupedStored(c, m.name, name));
  const offsets = ws.map((w) => w.map((v, i) => v - w0[i]!));
  const out = [...w0];
  for (const g of groups(shape, c.options.filter_wise ? 'rows' : 'all')) {
    const cosines: number[] = [];
    for (let i = 0; i < offsets.length; i++)
      for (let j = i + 1; j < offsets.length; j++) {
        const norms = Math.sqrt(dot(offsets[i]!, offsets[i]!, g)) * Math.sqrt(dot(offsets[j]!, offsets[j]!, g));
        cosines.push(Math.min(1, Math.max(-1, dot(offsets[i]!, offsets[j]!, g) / Math.max(norms, 1e-6))));
      }
    const cos = cosines.reduce((a, b) => a + b, 0) / cosines.length;
    const n = ws.length;
    const t = (n * cos) / (1 + (n - 1) * cos);
    for (const e of g) out[e] = t * (ws.reduce((s, w) => s + w[e]!, 0) / n) + (1 - t) * w0[e]!;
  }
  return out;
}

function nuslerpRef(c: GroupedCase, name: string, shape: readonly number[]): number[] {
  const [w0, w1] = c.models.map((m) => m.weight!) as [number, number];
  const t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
  const base = c.base ? groupedStored(c, c.base, name) : undefined;
  const [v0, v1] = c.models.map((m) => groupedStored(c, m.name, name).map((v, i) => v - (base ? base[i]! : 0))) as [
    number[],
    number[],
  ];
  const kind = c.options.nuslerp_flatten !== false ? 'all' : c.options.nuslerp_row_wise ? 'cols' : 'rows';
  const out = base ? [...base] : v0.map(() => 0);
  for (const g of groups(shape, kind)) {
    const n0 = Math.max(Math.sqrt(dot(v0, v0, g)), 1e-7);
    const n1 = Math.max(Math.sqrt(dot(v1, v1, g)), 1e-7);
    const theta = Math.acos(
      Math.min(
        1,
        Math.max(
          -1,
          g.reduce((s, i) => s + (v0[i]! / n0) * (v1[i]! / n1), 0),
        ),
      ),
    );
    const s = Math.sin(theta);
    for (const e of g)
      out[e]! +=
        Math.abs(s) < 1e-8
          ? (1 - t) * v0[e]! + t * v1[e]!
          : (Math.sin((1 - t) * theta) * v0[e]! + Math.sin(t * theta) * v1[e]!) / s;
  }
  return out;
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const vdot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

function multislerpRef(c: GroupedCase, name: string): number[] {
  const base = c.base ? groupedStored(c, c.base, name) : undefined;
  const xs = c.models.map((m) => groupedStored(c, m.name, name).map((v, i) => v - (base ? base[i]! : 0)));
  const raw = c.models.map((m) => m.weight!);
  const w = c.options.normalize_weights === false ? raw : raw.map((v) => v / raw.reduce((a, b) => a + b, 0));
  const eps = 1e-8;
  const norms = xs.map(norm);
  const units = xs.map((x, i) => x.map((v) => v / (norms[i]! + eps)));
  let mean = units[0]!.map((_, e) => units.reduce((s, u, i) => s + u[e]! * w[i]!, 0));
  const meanNorm = norm(mean);
  mean = mean.map((v) => v / meanNorm);
  const tangents = units.map((u) => {
    const d = vdot(u, mean);
    return u.map((v, e) => v - d * mean[e]!);
  });
  const tr = mean.map((_, e) => tangents.reduce((s, t, i) => s + t[e]! * w[i]!, 0));
  const tn = norm(tr) + eps;
  const avgNorm = norms.reduce((s, n, i) => s + n * w[i]!, 0);
  return mean.map((m, e) => (m * Math.cos(tn) + tr[e]! * (Math.sin(tn) / tn)) * avgNorm + (base ? base[e]! : 0));
}

function karcherRef(c: GroupedCase, name: string): number[] {
  const names = [...(c.base ? [c.base] : []), ...c.models.map((m) => m.name)];
  const xs = names.map((m) => groupedStored(c, m, name));
  const tol = Number(c.options.tol ?? 1e-5);
  const maxIter = Number(c.options.max_iter ?? 10);
  const alphas = xs.map(() => 1 / xs.length);
  const norms = xs.map(norm);
  const units = xs.map((x, i) => x.map((v) => v / norms[i]!));
  let u = units[0]!.map((_, e) => units.reduce((s, un, i) => s + alphas[i]! * un[e]!, 0));
  u = u.map((v) => v / norm(u));
  for (let it = 0; it < maxIter; it++) {
    const t = u.map(() => 0);
    units.forEach((ui, i) => {
      const dot = Math.min(1, Math.max(-1, vdot(u, ui)));
      const theta = Math.acos(dot);
      if (theta < tol) return;
      ui.forEach((v, e) => (t[e]! += alphas[i]! * (theta / Math.sin(theta)) * (v - dot * u[e]!)));
    });
    const nt = norm(t);
    if (nt < tol) break;
    u = u.map((v, e) => Math.cos(nt) * v + Math.sin(nt) * (t[e]! / nt));
    const nu = norm(u);
    if (nu > tol) u = u.map((v) => v / nu);
  }
  const s = alphas.reduce((acc, a, i) => acc + a * norms[i]!, 0);
  return u.map((v) => s * v);
}

export function groupedRef(c: GroupedCase, name: string): number[] {
  const shape = GROUPED_SHAPES[name]!;
  switch (c.method) {
    case 'model_stock':
      return modelStockRef(c, name, shape);
    case 'nuslerp':
      return nuslerpRef(c, name, shape);
    case 'multislerp':
      return multislerpRef(c, name);
    case 'karcher':
      return karcherRef(c, name);
  }
}

const three = [{ name: 'a' }, { name: 'b' }, { name: 'c' }];
const pair = [
  { name: 'a', weight: 0.3 },
  { name: 'b', weight: 0.9 },
];
const weighted3 = [
  { name: 'a', weight: 0.5 },
  { name: 'b', weight: 0.3 },
  { name: 'c', weight: 0.4 },
];
export const GROUPED_CASES: readonly GroupedCase[] = [
  make({
    name: 'multislerp of three models, no base',
    method: 'multislerp',
    models: weighted3,
    options: {},
    dtype: 'F32',
  }),
  make({
    name: 'multislerp of task vectors, weights not normalized, bf16',
    method: 'multislerp',
    base: 'base',
    models: weighted3,
    options: { normalize_weights: false },
    dtype: 'BF16',
  }),
  make({
    name: 'multislerp of two task vectors',
    method: 'multislerp',
    base: 'base',
    models: pair,
    options: {},
    dtype: 'F32',
  }),
  make({ name: 'karcher of three models', method: 'karcher', models: three, options: {}, dtype: 'F32' }),
  make({
    name: 'karcher with a base_model among the models, max_iter 3, tol 1e-4, bf16',
    method: 'karcher',
    base: 'base',
    models: three.slice(0, 2),
    options: { max_iter: 3, tol: 1e-4 },
    dtype: 'BF16',
  }),
  make({
    name: 'model_stock, three models',
    method: 'model_stock',
    base: 'base',
    models: three,
    options: {},
    dtype: 'F32',
  }),
  make({
    name: 'model_stock, two models, bf16',
    method: 'model_stock',
    base: 'base',
    models: three.slice(0, 2),
    options: {},
    dtype: 'BF16',
  }),
  make({
    name: 'model_stock filter_wise',
    method: 'model_stock',
    base: 'base',
    models: three,
    options: { filter_wise: true },
    dtype: 'F32',
  }),
  make({ name: 'nuslerp without a base (flattened)', method: 'nuslerp', models: pair, options: {}, dtype: 'F32' }),
  make({
    name: 'nuslerp with a base, task vectors',
    method: 'nuslerp',
    base: 'base',
    models: pair,
    options: {},
    dtype: 'BF16',
  }),
  make({
    name: 'nuslerp per row',
    method: 'nuslerp',
    base: 'base',
    models: pair,
    options: { nuslerp_flatten: false },
    dtype: 'F32',
  }),
  make({
    name: 'nuslerp per column (row_wise), a negative weight',
    method: 'nuslerp',
    models: [
      { name: 'a', weight: -0.2 },
      { name: 'b', weight: 1 },
    ],
    options: { nuslerp_flatten: false, nuslerp_row_wise: true },
    dtype: 'F32',
  }),
  make({
    name: 'nuslerp of colinear task vectors: linear',
    method: 'nuslerp',
    base: 'base',
    models: pair,
    options: {},
    dtype: 'F32',
    colinear: true,
  }),
];
