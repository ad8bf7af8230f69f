/**
 * Every merge method as a row of data: what it computes, which recipe parameters it reads (the
 * facts about each parameter live in parameters.ts), and its defaults where they differ from the
 * table's. The task-vector family is one generalized core (task-arithmetic.ts) configured by a
 * sparsification and a consensus choice, as in mergekit; the SVD family merges whole 2-D weights
 * (svd-merge.ts).
 */
import type { MergeMethodName } from '../../recipe/types';
import { PARAMETERS, type ParameterName } from './parameters';
import { TENSOR_ROWS } from './tensor-rows';

/** `della`: mergekit's della_magprune (keep probabilities by magnitude rank within each row). */
export type Sparsification = 'none' | 'magnitude' | 'random' | 'magnitude_outliers' | 'della';
export type Consensus = 'none' | 'sign';
/** `tensor`: a method of its own over whole tensors (tensor-methods.ts dispatches by name). */
export type MethodFamily = 'task_vector' | 'linear' | 'slerp' | 'svd' | 'tensor';

/** How one method reads one parameter (facts shared by every method are in PARAMETERS). */
export interface MethodParameter {
  /** This method's default, where it differs from PARAMETERS[name].default. */
  readonly default?: number | boolean;
  /** No default: every model (other than the base) needs a value, per model or at the top level. */
  readonly required?: boolean;
  /** What the default depends on, in words (for the docs). */
  readonly note?: string;
  /** Accepted, as mergekit accepts it, but without effect in this method (the UI hides it). */
  readonly inert?: boolean;
}

export type MethodParameters = Readonly<Partial<Record<ParameterName, MethodParameter>>>;

export interface MethodRow {
  readonly name: MergeMethodName;
  readonly title: string;
  /** `svd`: whole 2-D weights through svd-merge.ts (other tensors fall back to task arithmetic). */
  readonly family: MethodFamily;
  readonly sparsification: Sparsification;
  readonly consensus: Consensus;
  readonly needsBase: boolean;
  /** mergekit has this merge_method; false: a Merge Lab extension. */
  readonly mergekit: boolean;
  /** How many models besides the base it merges (the parser checks), where the family does not say. */
  readonly others?: { readonly min: number; readonly max?: number };
  /** The parameters this method reads, per-model ones first; any other key is ignored with a warning. */
  readonly parameters: MethodParameters;
  readonly formula: string;
  readonly reference: string;
}

/** A method row plus the views of it that readers need most. */
export interface MethodSpec extends MethodRow {
  /** Per-model parameters this method reads (others are ignored with a warning). */
  readonly modelParameters: readonly ParameterName[];
  /** Top-level parameters this method reads. */
  readonly globalParameters: readonly ParameterName[];
  readonly defaultNormalize: boolean;
  readonly defaultRescale: boolean;
}

/**
 * A task-vector method that sparsifies or elects signs (TIES, DARE, breadcrumbs, DELLA): it holds a
 * chunk's task vectors and their trimmed (with a consensus also weighted, sign and mixed) values in
 * f32 at once, and a magnitude trim ranks over the whole tensor, in passes.
 */
export function holdsTaskVectors(spec: MethodRow): boolean {
  return spec.family === 'task_vector' && (spec.sparsification !== 'none' || spec.consensus !== 'none');
}

/** The method's default for a parameter (its own, else the table's); undefined when there is none. */
export function parameterDefault(spec: MethodRow, name: ParameterName): number | boolean | undefined {
  const own = spec.parameters[name];
  return own?.default ?? (PARAMETERS[name] as { default?: number | boolean }).default;
}

/** A numeric default the engine falls back on (e.g. iso_c's `rank`); throws when the method has none. */
export function numberDefault(spec: MethodRow, name: ParameterName): number {
  const d = parameterDefault(spec, name);
  if (typeof d !== 'number') throw new Error(`${spec.name} has no numeric default for ${name}`);
  return d;
}

/** The parameters a method reads, in row order. */
export function methodParameterNames(spec: MethodRow): ParameterName[] {
  return Object.keys(spec.parameters) as ParameterName[];
}

/** Method rows of one table as specs, keyed by name. */
function methods<K extends MergeMethodName>(rows: Readonly<Record<K, MethodRow>>): Record<K, MethodSpec> {
  return Object.fromEntries(Object.entries<MethodRow>(rows).map(([k, row]) => [k, method(row)])) as Record<
    K,
    MethodSpec
  >;
}

function method(row: MethodRow): MethodSpec {
  const names = methodParameterNames(row);
  return {
    ...row,
    modelParameters: names.filter((n) => PARAMETERS[n].scope === 'model'),
    globalParameters: names.filter((n) => PARAMETERS[n].scope === 'global'),
    defaultNormalize: parameterDefault(row, 'normalize') === true,
    defaultRescale: parameterDefault(row, 'rescale') === true,
  };
}

interface TaskVectorRow {
  readonly name: MergeMethodName;
  readonly title: string;
  readonly sparsification: Sparsification;
  readonly consensus: Consensus;
  readonly defaultNormalize?: boolean;
  readonly defaultRescale?: boolean;
  readonly formula: string;
  readonly reference: string;
}

/** A member of mergekit's generalized task-arithmetic family: base + λ · consensus(sparsify(w δ)). */
function taskVector(o: TaskVectorRow): MethodSpec {
  const { sparsification } = o;
  return method({
    name: o.name,
    title: o.title,
    family: 'task_vector',
    sparsification,
    consensus: o.consensus,
    needsBase: true,
    mergekit: true,
    parameters: {
      weight: { required: true },
      ...(sparsification !== 'none' ? { density: {} } : {}),
      ...(sparsification === 'magnitude_outliers' ? { gamma: {} } : {}),
      ...(sparsification === 'della' ? { epsilon: {} } : {}),
      lambda: {},
      normalize: { default: o.defaultNormalize ?? false },
      rescale: { default: o.defaultRescale ?? false, inert: sparsification === 'none' },
      int8_mask: {},
    },
    formula: o.formula,
    reference: o.reference,
  });
}

interface SvdRow {
  readonly name: MergeMethodName;
  readonly title: string;
  readonly needsBase?: boolean;
  readonly rank: MethodParameter;
  /** Parameters beyond the family's weight, lambda, rank, oversample and power_iters. */
  readonly extra?: MethodParameters;
  readonly formula: string;
  readonly reference: string;
}

/**
 * An SVD merge of whole 2-D weights. Every `rank` is clamped to min(m, n); the (rank+p)²
 * factorisations run on the CPU. Tensors that are not 2-D (norms, biases) and embeddings /
 * lm_head are merged with task arithmetic (λ, weights; iso_c with the mean) and listed in the
 * merge summary's warnings.
 */
function svdMethod(o: SvdRow): MethodSpec {
  return method({
    name: o.name,
    title: o.title,
    family: 'svd',
    sparsification: 'none',
    consensus: 'none',
    needsBase: o.needsBase ?? true,
    mergekit: false,
    parameters: { weight: { default: 1 }, lambda: {}, rank: o.rank, oversample: {}, power_iters: {}, ...o.extra },
    formula: o.formula,
    reference: o.reference,
  });
}

const isoRank: MethodParameter = { default: 256, note: 'min(m, n, 256): the full spectrum up to 256' };

export const METHODS: Readonly<Record<MergeMethodName, MethodSpec>> = {
  linear: method({
    name: 'linear',
    title: 'Linear (weighted average)',
    family: 'linear',
    sparsification: 'none',
    consensus: 'none',
    needsBase: false,
    mergekit: true,
    parameters: { weight: { required: true }, normalize: { default: true } },
    formula: 'θ = Σ w_t θ_t / Σ w_t',
    reference: 'https://arxiv.org/abs/2203.05482',
  }),
  task_arithmetic: taskVector({
    name: 'task_arithmetic',
    title: 'Task Arithmetic',
    sparsification: 'none',
    consensus: 'none',
    formula: 'θ = θ₀ + λ Σ w_t (θ_t − θ₀)',
    reference: 'https://arxiv.org/abs/2212.04089',
  }),
  ties: taskVector({
    name: 'ties',
    title: 'TIES',
    sparsification: 'magnitude',
    consensus: 'sign',
    defaultNormalize: true,
    formula: 'θ = θ₀ + λ · disjoint_mean(sign_elect(trim_density(w_t δ_t)))',
    reference: 'https://arxiv.org/abs/2306.01708',
  }),
  dare_linear: taskVector({
    name: 'dare_linear',
    title: 'DARE (linear)',
    sparsification: 'random',
    consensus: 'none',
    defaultRescale: true,
    formula: 'θ = θ₀ + λ Σ w_t r_t (m_t ⊙ δ_t), m_t ~ Bernoulli(density), r_t = ‖δ_t‖₁/‖m_t ⊙ δ_t‖₁ (rescale)',
    reference: 'https://arxiv.org/abs/2311.03099',
  }),
  dare_ties: taskVector({
    name: 'dare_ties',
    title: 'DARE-TIES',
    sparsification: 'random',
    consensus: 'sign',
    defaultRescale: true,
    formula: 'θ = θ₀ + λ · disjoint_mean(sign_elect(w_t r_t (m_t ⊙ δ_t))), r_t = ‖δ_t‖₁/‖m_t ⊙ δ_t‖₁ (rescale)',
    reference: 'https://arxiv.org/abs/2311.03099',
  }),
  breadcrumbs: taskVector({
    name: 'breadcrumbs',
    title: 'Model Breadcrumbs',
    sparsification: 'magnitude_outliers',
    consensus: 'none',
    formula: 'θ = θ₀ + λ Σ w_t band(δ_t): drop the top γ and the bottom 1−density−γ of |δ|',
    reference: 'https://arxiv.org/abs/2312.06795',
  }),
  breadcrumbs_ties: taskVector({
    name: 'breadcrumbs_ties',
    title: 'Model Breadcrumbs + TIES',
    sparsification: 'magnitude_outliers',
    consensus: 'sign',
    formula: 'θ = θ₀ + λ · disjoint_mean(sign_elect(w_t band(δ_t)))',
    reference: 'https://arxiv.org/abs/2312.06795',
  }),
  della: taskVector({
    name: 'della',
    title: 'DELLA (MagPrune + TIES)',
    sparsification: 'della',
    consensus: 'sign',
    defaultNormalize: true,
    defaultRescale: true,
    formula:
      'θ = θ₀ + λ · disjoint_mean(sign_elect(w_t r_t (m_t ⊙ δ_t))), m_t ~ Bernoulli(density − ε + 2ε · rank_row(|δ|)/(cols − 1)), r_t = ‖δ_t‖₁/‖m_t ⊙ δ_t‖₁',
    reference: 'https://arxiv.org/abs/2406.11617',
  }),
  della_linear: taskVector({
    name: 'della_linear',
    title: 'DELLA (linear)',
    sparsification: 'della',
    consensus: 'none',
    defaultRescale: true,
    formula:
      'θ = θ₀ + λ Σ w_t r_t (m_t ⊙ δ_t), m_t ~ Bernoulli(density − ε + 2ε · rank_row(|δ|)/(cols − 1)), r_t = ‖δ_t‖₁/‖m_t ⊙ δ_t‖₁',
    reference: 'https://arxiv.org/abs/2406.11617',
  }),
  sens_merging: method({
    name: 'sens_merging',
    title: 'Sens-Merging (task arithmetic, per-layer sensitivity weights)',
    family: 'task_vector',
    sparsification: 'none',
    consensus: 'none',
    needsBase: true,
    mergekit: false,
    parameters: {
      weight: { default: 1, note: 'multiplies the per-layer weights' },
      lambda: { note: "the paper's α (0.4 at 1.5B, 0.7 at 7B)" },
    },
    formula:
      'θ = θ₀ + λ Σ_t w_t^l δ_t, w_t^l = K · softmax_t(α_t^l τ_t / T), α_t^l = S_t^l / ‖S_t‖₂; statistics, T and the readings in the sens block',
    reference: 'https://arxiv.org/abs/2502.12420',
  }),
  ...methods(TENSOR_ROWS),
  slerp: method({
    name: 'slerp',
    title: 'SLERP',
    family: 'slerp',
    sparsification: 'none',
    consensus: 'none',
    needsBase: true,
    mergekit: true,
    parameters: { t: { required: true } },
    formula: 'θ = sin((1−t)Ω)/sin Ω · θ₀ + sin(tΩ)/sin Ω · θ₁, cos Ω = θ̂₀·θ̂₁',
    reference: 'https://github.com/arcee-ai/mergekit',
  }),
  tsv: svdMethod({
    name: 'tsv',
    title: 'TSV-Merge (task singular vectors)',
    rank: { note: 'at most ⌊min(m, n)/T⌋ for T task vectors' },
    formula: 'δ_t ≈ U_t Σ_t V_tᵀ (rank k); U = polar([U_1…U_T]), V = polar([V_1…V_T]); θ = θ₀ + λ U diag(w_t Σ_t) Vᵀ',
    reference: 'https://arxiv.org/abs/2412.00081',
  }),
  iso_c: svdMethod({
    name: 'iso_c',
    title: 'Iso-C (isotropic merge)',
    rank: isoRank,
    formula: 'δ̄ = Σ w_t δ_t / Σ w_t = U Σ Vᵀ; θ = θ₀ + λ σ̄ U Vᵀ, σ̄ = mean σ_i',
    reference: 'https://arxiv.org/abs/2502.04959',
  }),
  iso_cts: svdMethod({
    name: 'iso_cts',
    title: 'Iso-CTS (isotropic, common + task subspaces)',
    rank: isoRank,
    extra: { common_fraction: {} },
    formula: 'U* = [U_c, top-s of (I − U_cU_cᵀ)δ_t …], V* likewise, whitened; θ = θ₀ + λ σ̄ Û* V̂*ᵀ',
    reference: 'https://arxiv.org/abs/2502.04959',
  }),
  lore: svdMethod({
    name: 'lore',
    title: 'LoRE-Merging',
    needsBase: false,
    rank: { default: 64 },
    extra: { mu: {}, iterations: {} },
    formula: 'repeat: δ_i = U max(Σ − μσ₁, 0) Vᵀ of θ_i − θ₀; θ₀ = mean(θ_i − δ_i); θ = θ₀ + λ Σ w_i δ_i',
    reference: 'https://arxiv.org/abs/2502.10749',
  }),
  twin: svdMethod({
    name: 'twin',
    title: 'Twin-Merging (SVD part, no router)',
    rank: {},
    formula: 'θ* = θ₀ + λ Σ w_t δ_t; v_t = rank-r SVD of θ_t − θ*; θ = θ* + Σ (w_t/Σw) v_t',
    reference: 'https://arxiv.org/abs/2406.15479',
  }),
  low_rank_task_arithmetic: svdMethod({
    name: 'low_rank_task_arithmetic',
    title: 'Low-rank task arithmetic',
    rank: { note: 'with `energy` and no `rank`, min(m, n): the whole spectrum' },
    extra: { energy: { note: 'none: `rank` decides' }, normalize: {} },
    formula: 'θ = θ₀ + λ Σ w_t trunc_r(δ_t) / (normalize ? Σ w_t : 1), r = rank or the energy fraction',
    reference: 'https://arxiv.org/abs/2412.00081',
  }),
};

// Kept for the planner, which reads these names today; the values come from parameters.ts.
