/**
 * What the Recipe step shows about a method: the engine's own merge of small toy tensors, step by
 * step (rows of numbers with a caption each), the quantities it computed on the way (angles,
 * interpolation factors, thresholds) and the merged row. Plain data: the UI only renders it.
 */
import type { MergeMethodName } from '../../recipe/types';

/** Why a cell is highlighted: trimmed or dropped, taken whole from the other model, picked, … */
export type CellMark = 'dropped' | 'swapped' | 'selected' | 'shared' | 'alone';

export interface ToyRow {
  readonly label: string;
  readonly values: readonly number[];
  /** Per cell, why it is highlighted (undefined: plain). */
  readonly marks?: readonly (CellMark | undefined)[];
  /** Per cell, text shown instead of the number (a sign, a count, a layer name). */
  readonly text?: readonly string[];
}

export interface ToyStep {
  readonly caption: string;
  readonly rows: readonly ToyRow[];
}

/** A quantity the method computed, e.g. `cos Ω` = `0.41`. */
export interface ToyFact {
  readonly label: string;
  readonly value: string;
}

export interface Explanation {
  readonly method: MergeMethodName;
  /** Elements per row of the toy tensor (cells after each multiple of it start a new row). */
  readonly cols: number;
  /** One sentence on what the method does with the toy. */
  readonly summary: string;
  readonly steps: readonly ToyStep[];
  readonly facts: readonly ToyFact[];
  /** The engine's output for the toy: θ, or δ = θ − θ₀ where `mergedIsDelta`. */
  readonly merged: ToyRow;
  readonly mergedIsDelta: boolean;
  /** How the toy differs from the recipe (stand-in models, models left out). */
  readonly notes: readonly string[];
}

/** The engine refused the toy recipe: its message, as a merge would report it. */
export interface ExplanationError {
  readonly method: MergeMethodName;
  readonly error: string;
}
