/**
 * Every merge method as a row of data. The task-vector family is one generalized core
 * (task-arithmetic.ts) configured by a sparsification and a consensus choice, as in mergekit.
 */
import type { MergeMethodName } from '../../recipe/types';

export type Sparsification = 'none' | 'magnitude' | 'random' | 'magnitude_outliers';
export type Consensus = 'none' | 'sign';

export interface MethodSpec {
  readonly name: MergeMethodName;
  readonly title: string;
  /** `svd`: whole 2-D weights through src/core/merge/methods/svd-merge.ts (others fall back to TA). */
  readonly family: 'task_vector' | 'linear' | 'slerp' | 'svd';
  readonly sparsification: Sparsification;
  readonly consensus: Consensus;
  readonly defaultNormalize: boolean;
  readonly defaultRescale: boolean;
  readonly needsBase: boolean;
  /** Per-model parameters this method reads (others are rejected). */
  readonly modelParameters: readonly string[];
  /** Top-level parameters this method reads. */
  readonly globalParameters: readonly string[];
  readonly formula: string;
  readonly reference: string;
}

const TV_GLOBALS = ['lambda', 'normalize', 'rescale', 'int8_mask'];
function taskVector(
  name: MergeMethodName,
  title: string,
  sparsification: Sparsification,
  consensus: Consensus,
  defaultNormalize: boolean,
  defaultRescale: boolean,
  formula: string,
  reference: string,
): MethodSpec {
  const modelParameters = ['weight', ...(sparsification === 'none' ? [] : ['density']), ...(sparsification === 'magnitude_outliers' ? ['gamma'] : [])];
  return { name, title, family: 'task_vector', sparsification, consensus, defaultNormalize, defaultRescale, needsBase: true, modelParameters, globalParameters: TV_GLOBALS, formula, reference };
}

/**
 * Parameters of the SVD family (top level; gradients and filters allowed like any setting):
 * - `rank` (integer ≥ 1): singular triplets kept per matrix. Defaults: tsv 32, and never more
 *   than ⌊min(m,n)/T⌋ (T task vectors); iso_c min(m,n, 256) (full up to 256); twin and
 *   low_rank_task_arithmetic 32; lore 64. Cost: the (rank+p)² factorisations run on the CPU.
 * - `common_fraction` [0, 1], iso_cts: share of the rank for the common subspace (default 0.8).
 * - `energy` (0, 1], low_rank_task_arithmetic: keep the smallest rank holding this fraction of
 *   ‖δ_t‖²_F (with `rank` as a cap; without it the whole spectrum is computed).
 * - `mu` [0, 1], lore: singular-value threshold as a fraction of σ_max (default 0.1).
 * - `iterations` (integer ≥ 1), lore: coordinate-descent rounds (default 3).
 * - `oversample` p (default 10) and `power_iters` q (default 2): the randomized SVD's sketch.
 * - `lambda`: scale of the merged task vector (default 1); per-model `weight` (default 1).
 * Tensors that are not 2-D (norms, biases) and embeddings / lm_head are merged with task
 * arithmetic (λ, weights; iso_c with the mean) and listed in the merge summary's warnings.
 */
export const SVD_DEFAULTS = { mu: 0.1, iterations: 3 } as const;
const SVD_COMMON = ['lambda', 'rank', 'oversample', 'power_iters'];
function svdMethod(name: MergeMethodName, title: string, needsBase: boolean, extra: readonly string[], formula: string, reference: string): MethodSpec {
  return {
    name, title, family: 'svd', sparsification: 'none', consensus: 'none', defaultNormalize: false, defaultRescale: false, needsBase,
    modelParameters: ['weight'], globalParameters: [...SVD_COMMON, ...extra], formula, reference,
  };
}
const SVD_METHODS = {
  tsv: svdMethod('tsv', 'TSV-Merge (task singular vectors)', true, [],
    'δ_t ≈ U_t Σ_t V_tᵀ (rank k); U = polar([U_1…U_T]), V = polar([V_1…V_T]); θ = θ₀ + λ U diag(w_t Σ_t) Vᵀ', 'https://arxiv.org/abs/2412.00081'),
  iso_c: svdMethod('iso_c', 'Iso-C (isotropic merge)', true, [],
    'δ̄ = Σ w_t δ_t / Σ w_t = U Σ Vᵀ; θ = θ₀ + λ σ̄ U Vᵀ, σ̄ = mean σ_i', 'https://arxiv.org/abs/2502.04959'),
  iso_cts: svdMethod('iso_cts', 'Iso-CTS (isotropic, common + task subspaces)', true, ['common_fraction'],
    'U* = [U_c, top-s of (I − U_cU_cᵀ)δ_t …], V* likewise, whitened; θ = θ₀ + λ σ̄ Û* V̂*ᵀ', 'https://arxiv.org/abs/2502.04959'),
  lore: svdMethod('lore', 'LoRE-Merging', false, ['mu', 'iterations'],
    'repeat: δ_i = U max(Σ − μσ₁, 0) Vᵀ of θ_i − θ₀; θ₀ = mean(θ_i − δ_i); θ = θ₀ + λ Σ w_i δ_i', 'https://arxiv.org/abs/2502.10749'),
  twin: svdMethod('twin', 'Twin-Merging (SVD part, no router)', true, [],
    'θ* = θ₀ + λ Σ w_t δ_t; v_t = rank-r SVD of θ_t − θ*; θ = θ* + Σ (w_t/Σw) v_t', 'https://arxiv.org/abs/2406.15479'),
  low_rank_task_arithmetic: svdMethod('low_rank_task_arithmetic', 'Low-rank task arithmetic', true, ['energy', 'normalize'],
    'θ = θ₀ + λ Σ w_t trunc_r(δ_t) / (normalize ? Σ w_t : 1), r = rank or the energy fraction', 'https://arxiv.org/abs/2412.00081'),
} as const;

export const METHODS: Readonly<Record<MergeMethodName, MethodSpec>> = {
  linear: {
    name: 'linear', title: 'Linear (weighted average)', family: 'linear', sparsification: 'none', consensus: 'none',
    defaultNormalize: true, defaultRescale: false, needsBase: false, modelParameters: ['weight'], globalParameters: ['normalize'],
    formula: 'θ = Σ w_t θ_t / Σ w_t', reference: 'https://arxiv.org/abs/2203.05482',
  },
  task_arithmetic: taskVector('task_arithmetic', 'Task Arithmetic', 'none', 'none', false, false,
    'θ = θ₀ + λ Σ w_t (θ_t − θ₀)', 'https://arxiv.org/abs/2212.04089'),
  ties: taskVector('ties', 'TIES', 'magnitude', 'sign', true, false,
    'θ = θ₀ + λ · disjoint_mean(sign_elect(trim_density(w_t δ_t)))', 'https://arxiv.org/abs/2306.01708'),
  dare_linear: taskVector('dare_linear', 'DARE (linear)', 'random', 'none', false, true,
    'θ = θ₀ + λ Σ w_t · (m_t ⊙ δ_t)/density, m_t ~ Bernoulli(density)', 'https://arxiv.org/abs/2311.03099'),
  dare_ties: taskVector('dare_ties', 'DARE-TIES', 'random', 'sign', false, true,
    'θ = θ₀ + λ · disjoint_mean(sign_elect(w_t (m_t ⊙ δ_t)/density))', 'https://arxiv.org/abs/2311.03099'),
  breadcrumbs: taskVector('breadcrumbs', 'Model Breadcrumbs', 'magnitude_outliers', 'none', false, false,
    'θ = θ₀ + λ Σ w_t band(δ_t): drop the top γ and the bottom 1−density−γ of |δ|', 'https://arxiv.org/abs/2312.06795'),
  breadcrumbs_ties: taskVector('breadcrumbs_ties', 'Model Breadcrumbs + TIES', 'magnitude_outliers', 'sign', false, false,
    'θ = θ₀ + λ · disjoint_mean(sign_elect(w_t band(δ_t)))', 'https://arxiv.org/abs/2312.06795'),
  slerp: {
    name: 'slerp', title: 'SLERP', family: 'slerp', sparsification: 'none', consensus: 'none',
    defaultNormalize: false, defaultRescale: false, needsBase: true, modelParameters: [], globalParameters: ['t'],
    formula: 'θ = sin((1−t)Ω)/sin Ω · θ₀ + sin(tΩ)/sin Ω · θ₁, cos Ω = θ̂₀·θ̂₁', reference: 'https://github.com/arcee-ai/mergekit',
  },
  ...SVD_METHODS,
};

export const DEFAULT_GAMMA = 0.01;
