/**
 * Every recipe parameter a merge method can read, described once (mergekit's ConfigParameterDef):
 * its type, the values the parser accepts, its scope, whether mergekit knows the key, its common
 * default, and how the UI draws it. The method rows (registry.ts) say which parameters each
 * method reads and override defaults per method. The parser, the UI controls, the mergekit export
 * and docs/methods.md (tools/method-docs.ts) all read this table.
 */
import { DEFAULT_AIM_OMEGA } from '../../recipe/types';

export type ParameterType = 'number' | 'integer' | 'boolean';

/**
 * `model`: set per model under `models[i].parameters` (a top-level value applies to every model);
 * `global`: top level only.
 */
export type ParameterScope = 'model' | 'global';

/** The UI slider's span and step: the useful span, often narrower than what the parser accepts. */
export interface SliderSpan {
  readonly min: number;
  readonly max: number;
  readonly step: number;
}

export interface ParameterDef {
  readonly name: string;
  readonly type: ParameterType;
  readonly scope: ParameterScope;
  /** Values the parser accepts, inclusive (numbers and integers only). */
  readonly range?: readonly [number, number];
  readonly slider?: SliderSpan;
  /** The engine's value when the recipe leaves the key out (a method row may override it). */
  readonly default?: number | boolean;
  /** The value the UI fills in when it adds a model or switches to a method that reads this. */
  readonly initial?: number;
  /** mergekit reads this key; false: a Merge Lab extension that mergekit ignores. */
  readonly mergekit: boolean;
  /** Why Merge Lab accepts but ignores this key (the parser warns and drops it). */
  readonly labIgnores?: string;
  readonly label: string;
  /** One line: the UI's help text and the docs' description. */
  readonly description: string;
}

const unit = { min: 0, max: 1, step: 0.01 } as const;

export const PARAMETERS = {
  weight: {
    name: 'weight',
    type: 'number',
    scope: 'model',
    range: [-1e6, 1e6],
    slider: { min: -1, max: 2, step: 0.01 },
    initial: 1,
    mergekit: true,
    label: 'weight',
    description: "the model's share of the merge",
  },
  density: {
    name: 'density',
    type: 'number',
    scope: 'model',
    range: [0, 1],
    slider: unit,
    default: 1,
    initial: 0.5,
    mergekit: true,
    label: 'density',
    description: 'fraction of the task vector kept',
  },
  gamma: {
    name: 'gamma',
    type: 'number',
    scope: 'model',
    range: [0, 1],
    slider: unit,
    default: 0.01,
    mergekit: true,
    label: 'gamma',
    description: 'fraction of the largest entries dropped',
  },
  epsilon: {
    name: 'epsilon',
    type: 'number',
    scope: 'model',
    range: [0, 1],
    slider: { min: 0, max: 0.5, step: 0.01 },
    default: 0.15,
    mergekit: true,
    label: 'epsilon (ε)',
    description: 'DELLA: keep probabilities span density ± ε by magnitude rank in each row; RAM: the |δ| that counts',
  },
  lambda: {
    name: 'lambda',
    type: 'number',
    scope: 'global',
    range: [-1e6, 1e6],
    slider: { min: 0, max: 2, step: 0.01 },
    default: 1,
    mergekit: true,
    label: 'lambda (λ)',
    description: 'scales the merged task vector',
  },
  normalize: {
    name: 'normalize',
    type: 'boolean',
    scope: 'global',
    default: false,
    mergekit: true,
    label: 'normalize',
    description: 'normalize by Σ weights',
  },
  rescale: {
    name: 'rescale',
    type: 'boolean',
    scope: 'global',
    default: false,
    mergekit: true,
    label: 'rescale',
    description: 'multiply the kept entries by ‖δ‖₁ / ‖kept δ‖₁, per tensor (as mergekit)',
  },
  int8_mask: {
    name: 'int8_mask',
    type: 'boolean',
    scope: 'global',
    mergekit: true,
    labIgnores: 'a mergekit memory option',
    label: 'int8_mask',
    description: 'stores masks as int8 in mergekit; Merge Lab ignores it',
  },
  select_topk: {
    name: 'select_topk',
    type: 'number',
    scope: 'global',
    range: [0, 1],
    slider: unit,
    default: 1,
    mergekit: true,
    label: 'select_topk',
    description: 'SCE: fraction of the elements (of largest variance across models) kept',
  },
  filter_wise: {
    name: 'filter_wise',
    type: 'boolean',
    scope: 'global',
    default: false,
    mergekit: true,
    label: 'filter_wise',
    description: 'model_stock: one interpolation ratio per row instead of per tensor',
  },
  nuslerp_flatten: {
    name: 'nuslerp_flatten',
    type: 'boolean',
    scope: 'global',
    default: true,
    mergekit: true,
    label: 'nuslerp_flatten',
    description: 'nuslerp: interpolate the flattened tensor (false: each row, or column)',
  },
  nuslerp_row_wise: {
    name: 'nuslerp_row_wise',
    type: 'boolean',
    scope: 'global',
    default: false,
    mergekit: true,
    label: 'nuslerp_row_wise',
    description: 'nuslerp without flatten: interpolate along columns (dim 0) instead of rows',
  },
  normalize_weights: {
    name: 'normalize_weights',
    type: 'boolean',
    scope: 'global',
    default: true,
    mergekit: true,
    label: 'normalize_weights',
    description: 'multislerp: divide the weights by their sum',
  },
  eps: {
    name: 'eps',
    type: 'number',
    scope: 'global',
    range: [0, 1],
    slider: { min: 0, max: 1e-4, step: 1e-8 },
    default: 1e-8,
    mergekit: true,
    label: 'eps',
    description: 'multislerp: added to norms before dividing by them',
  },
  max_iter: {
    name: 'max_iter',
    type: 'integer',
    scope: 'global',
    range: [0, 1000],
    slider: { min: 1, max: 50, step: 1 },
    default: 10,
    mergekit: true,
    label: 'max_iter',
    description: 'karcher: iterations of the Riemannian mean at most',
  },
  tol: {
    name: 'tol',
    type: 'number',
    scope: 'global',
    range: [0, 1],
    slider: { min: 0, max: 1e-3, step: 1e-6 },
    default: 1e-5,
    mergekit: true,
    label: 'tol',
    description: 'karcher: convergence tolerance (and the smallest norm and angle that count)',
  },
  r: {
    name: 'r',
    type: 'number',
    scope: 'global',
    range: [0, 1e6],
    slider: { min: 0, max: 1, step: 0.01 },
    default: 0.1,
    mergekit: true,
    label: 'r',
    description: 'ramplus_tl: how much a model’s sharing ratio boosts its unique entries',
  },
  alpha: {
    name: 'alpha',
    type: 'number',
    scope: 'global',
    range: [0, 1e6],
    slider: { min: 0, max: 1, step: 0.01 },
    default: 0.2,
    mergekit: true,
    label: 'alpha',
    description: 'ramplus_tl: the cap on the sharing ratio',
  },
  scale: {
    name: 'scale',
    type: 'number',
    scope: 'model',
    range: [-1e6, 1e6],
    slider: { min: 0, max: 2, step: 0.01 },
    default: 1,
    mergekit: true,
    label: 'scale',
    description: 'passthrough: multiplies the tensors taken from this model',
  },
  t: {
    name: 't',
    type: 'number',
    scope: 'global',
    range: [0, 1],
    slider: unit,
    initial: 0.5,
    mergekit: true,
    label: 't',
    description: '0 = base, 1 = the other model',
  },
  rank: {
    name: 'rank',
    type: 'integer',
    scope: 'global',
    range: [1, 1e6],
    slider: { min: 1, max: 256, step: 1 },
    default: 32,
    mergekit: false,
    label: 'rank',
    description: 'singular triplets kept per weight',
  },
  energy: {
    name: 'energy',
    type: 'number',
    scope: 'global',
    range: [1e-6, 1],
    slider: { min: 0.01, max: 1, step: 0.01 },
    mergekit: false,
    label: 'energy',
    description: 'keep the smallest rank holding this energy fraction',
  },
  mu: {
    name: 'mu',
    type: 'number',
    scope: 'global',
    range: [0, 1],
    slider: unit,
    default: 0.1,
    mergekit: false,
    label: 'mu',
    description: 'singular-value threshold, as a fraction of σ_max',
  },
  common_fraction: {
    name: 'common_fraction',
    type: 'number',
    scope: 'global',
    range: [0, 1],
    slider: unit,
    default: 0.8,
    mergekit: false,
    label: 'common_fraction',
    description: 'share of the rank for the common subspace',
  },
  iterations: {
    name: 'iterations',
    type: 'integer',
    scope: 'global',
    range: [1, 100],
    slider: { min: 1, max: 20, step: 1 },
    default: 3,
    mergekit: false,
    label: 'iterations',
    description: 'coordinate-descent rounds',
  },
  oversample: {
    name: 'oversample',
    type: 'integer',
    scope: 'global',
    range: [0, 1024],
    slider: { min: 0, max: 64, step: 1 },
    default: 10,
    mergekit: false,
    label: 'oversample',
    description: 'randomized SVD oversampling p',
  },
  power_iters: {
    name: 'power_iters',
    type: 'integer',
    scope: 'global',
    range: [0, 32],
    slider: { min: 0, max: 8, step: 1 },
    default: 2,
    mergekit: false,
    label: 'power_iters',
    description: 'randomized SVD power iterations q',
  },
} as const satisfies Record<string, ParameterDef>;

export type ParameterName = keyof typeof PARAMETERS;

export function isParameterName(key: string): key is ParameterName {
  return Object.hasOwn(PARAMETERS, key);
}

/** The one parameter-like setting outside `parameters`: AIM's ω (`aim.omega`), drawn and checked alike. */
export const AIM_OMEGA: ParameterDef = {
  name: 'omega',
  type: 'number',
  scope: 'global',
  range: [0, 1],
  slider: unit,
  default: DEFAULT_AIM_OMEGA,
  mergekit: false,
  label: 'omega (ω)',
  description: '0.4 in the paper',
};

// The engine's fallbacks, exported for the planner and the SVD code (all read from the table above).
export const DEFAULT_GAMMA: number = PARAMETERS.gamma.default;
export const DEFAULT_DENSITY: number = PARAMETERS.density.default;
export const DEFAULT_EPSILON: number = PARAMETERS.epsilon.default;
export const DEFAULT_LAMBDA: number = PARAMETERS.lambda.default;
export const DEFAULT_OVERSAMPLE: number = PARAMETERS.oversample.default;
export const DEFAULT_POWER_ITERS: number = PARAMETERS.power_iters.default;
export const DEFAULT_COMMON_FRACTION: number = PARAMETERS.common_fraction.default;
export const SVD_DEFAULTS = { mu: PARAMETERS.mu.default, iterations: PARAMETERS.iterations.default } as const;
