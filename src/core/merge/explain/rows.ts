/** Small helpers the explainers share: the toy's rows in method order, task vectors, number words. */
import { delta } from '../../kernels/delta';
import type { PlannedInput } from '../plan';
import { TOY_TENSOR, type ToyRun, toyInputs } from './toy';
import type { ToyRow } from './types';

/** What an explainer returns; explain.ts adds the method, the toy's shape and the notes. */
export interface ExplainedBody {
  readonly summary: string;
  readonly steps: readonly { readonly caption: string; readonly rows: readonly ToyRow[] }[];
  readonly facts: readonly { readonly label: string; readonly value: string }[];
  readonly merged: ToyRow;
  readonly mergedIsDelta?: boolean;
}

/** A number as the explanation prints it. */
export const fmt = (v: number, digits = 2): string =>
  Number.isFinite(v) ? Number(v.toFixed(digits)).toString() : String(v);
/** An angle in degrees from its cosine. */
export const degrees = (cos: number): string =>
  `${fmt((Math.acos(Math.min(1, Math.max(-1, cos))) * 180) / Math.PI, 1)}°`;

/** One toy input with its values and label. */
export interface ToyInput {
  readonly input: PlannedInput;
  readonly label: string;
  readonly values: Float32Array;
}

/** The toy tensor's inputs in method order ([θ₀, θ_A, …] with a base). */
export function inputsOf(run: ToyRun): ToyInput[] {
  const values = run.values.get(TOY_TENSOR)!;
  return toyInputs(run).map((input) => ({
    input,
    label: run.models.get(input.model)?.label ?? input.model,
    values: values.get(input.model)!,
  }));
}

/** The engine's merged toy tensor. */
export const mergedOf = (run: ToyRun): Float32Array => run.outputs.get(TOY_TENSOR)!;

/** δ_t = θ_t − θ₀ for every input after the base, with the engine's delta kernel. */
export function taskVectors(ins: readonly ToyInput[]): ToyInput[] {
  const base = ins[0]!.values;
  return ins.slice(1).map((m) => ({ ...m, label: m.label.replace('θ', 'δ'), values: delta(m.values, base) }));
}

export const row = (
  label: string,
  values: ArrayLike<number>,
  extra: Omit<ToyRow, 'label' | 'values'> = {},
): ToyRow => ({
  label,
  values: Array.from(values),
  ...extra,
});

/** The Gram matrix (f64, row-major) of vectors over the elements in `which`. */
export function gramOver(vs: readonly Float32Array[], which: readonly number[]): Float64Array {
  const n = vs.length;
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) g[i * n + j] = which.reduce((s, e) => s + vs[i]![e]! * vs[j]![e]!, 0);
  return g;
}

/** cos of the angle between vectors i and j of a Gram matrix. */
export function gramCos(g: Float64Array, n: number, i: number, j: number): number {
  const d = Math.sqrt(g[i * n + i]! * g[j * n + j]!);
  return d > 0 ? g[i * n + j]! / d : 0;
}

/** The parameter a row shows next to its label, e.g. `w = 0.7`. */
export const withWeight = (m: ToyInput) => `${m.label} (w = ${fmt(m.input.params.weight)})`;
