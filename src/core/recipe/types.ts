/**
 * A merge recipe in mergekit's YAML schema (https://github.com/arcee-ai/mergekit), plus a few
 * Merge Lab extensions that mergekit ignores (`random_seed`, `vocab_policy`).
 */
import type { DType } from '../dtype';
import type { LabWarning } from '../errors';
import type { SensSettings } from '../sens/coefficients';

/** A scalar, a gradient across layer depth, or a list of tensor-name filters. */
export type Setting = number | boolean | string | number[] | ConditionalSetting[];
export interface ConditionalSetting {
  filter?: string;
  value: number | boolean | string | number[];
}

export const MERGE_METHODS = [
  'linear',
  'task_arithmetic',
  'ties',
  'dare_linear',
  'dare_ties',
  'breadcrumbs',
  'breadcrumbs_ties',
  'della',
  'della_linear',
  'sce',
  'model_stock',
  'nuslerp',
  'multislerp',
  'karcher',
  'nearswap',
  'arcee_fusion',
  'ram',
  'ramplus_tl',
  'passthrough',
  'slerp',
  // SVD merges of whole 2-D weights (src/core/merge/methods/svd-merge.ts); Merge Lab extensions.
  'tsv',
  'iso_c',
  'iso_cts',
  'lore',
  'twin',
  'low_rank_task_arithmetic',
  // Sens-Merging: task arithmetic with per-layer weights from statistics files (src/core/sens/compile.ts).
  'sens_merging',
] as const;
export type MergeMethodName = (typeof MERGE_METHODS)[number];

/** What to do when embedding row counts (vocabularies) differ between models. */
export type VocabPolicy = 'error' | 'base';

export interface RecipeModel {
  readonly model: string;
  readonly parameters: Readonly<Record<string, Setting>>;
}

/** One output slice of `passthrough`: layers [start, end) of one model (mergekit's `slices[].sources[0]`). */
export interface RecipeSlice {
  readonly model: string;
  readonly layerRange: readonly [number, number];
  readonly parameters: Readonly<Record<string, Setting>>;
}

export interface Recipe {
  readonly mergeMethod: MergeMethodName;
  /** passthrough: the output's layers, slice by slice (then `models` lists the models they name). */
  readonly slices?: readonly RecipeSlice[];
  readonly baseModel?: string;
  readonly models: readonly RecipeModel[];
  readonly parameters: Readonly<Record<string, Setting>>;
  readonly dtype?: DType;
  /** `base`, or a model reference whose tokenizer files are copied. */
  readonly tokenizerSource?: string;
  readonly randomSeed: number;
  readonly vocabPolicy: VocabPolicy;
  /** Activation-informed merging applied after the method (Merge Lab extension; mergekit ignores it). */
  readonly aim?: AimSettings;
  /** Sens-Merging's per-layer weights (Merge Lab extension), compiled away before a merge (src/core/sens/compile.ts). */
  readonly sens?: SensSettings;
}

export interface AimSettings {
  /** ω: how much of the merged task vector survives on the most active channels (paper: 0.4). */
  readonly omega: number;
  /** The activation statistics file (or calibration set) measured on the base model. */
  readonly calibration: string;
}

export const DEFAULT_AIM_OMEGA = 0.4;

export const DEFAULT_SEED = 0;

export type RecipeWarningCode =
  /** A key mergekit knows that Merge Lab accepts and ignores (e.g. `int8_mask`). */
  | 'lab-ignores-key'
  /** A parameter the method does not read (e.g. `density` on task_arithmetic): ignored, as mergekit does. */
  | 'unused-parameter'
  /** A parameter no method reads (often a typo: `suggestion` names the likely key): ignored, as mergekit does. */
  | 'unknown-parameter'
  /** On export: the merge_method is a Merge Lab extension that mergekit does not have. */
  | 'mergekit-lacks-method'
  /** On export: a key mergekit does not know or cannot apply; it ignores it. */
  | 'mergekit-ignores-key'
  /** On export: mergekit reads this differently (e.g. DARE's random masks come from torch). */
  | 'mergekit-differs';

/** A non-fatal note about a recipe, pointing at its dotted field (`models[0].parameters.int8_mask`). */
export interface RecipeWarning extends LabWarning {
  readonly code: RecipeWarningCode;
  readonly field: string;
  /** unknown-parameter: the known key this one is most likely a typo of. */
  readonly suggestion?: string;
}
