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
  readonly family: 'task_vector' | 'linear' | 'slerp';
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
};

export const DEFAULT_GAMMA = 0.01;
