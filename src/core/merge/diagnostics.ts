/**
 * What a merge reports about each tensor, as typed records: task-vector statistics (norms,
 * cosines, sign conflicts, trimming thresholds), SLERP coefficients, and what the SVD merges
 * decided (kept ranks, spectra). Methods fill a tensor's record through its job; the merge hands
 * it to MergeOptions.onTensor and keeps it in MergeSummary.diagnostics. Plain data: it crosses
 * worker boundaries by structured clone.
 */

/** A value measured for one input model (its task vector, or its residual for Twin). */
export interface ModelValue {
  readonly model: string;
  readonly value: number;
}

/** cos(δ_a, δ_b) for one pair of models. */
export interface ModelPairValue {
  readonly a: string;
  readonly b: string;
  readonly value: number;
}

/** The magnitude band a sparsified task vector keeps: lo ≤ |δ| < hi (hi is absent when unbounded). */
export interface TrimThreshold {
  readonly model: string;
  readonly lo: number;
  readonly hi?: number;
}

/** One decomposed matrix of an SVD merge, in brief (the whole spectrum goes to MergeOptions.onSpectrum). */
export interface SpectrumSummary {
  readonly model: string;
  /** What was decomposed: see SpectrumDiagnostics.matrix. */
  readonly matrix: string;
  readonly rank: number;
  readonly energyAtRank: number;
  readonly effectiveRank: number;
  readonly sigmaMax: number;
  readonly rank90: number | null;
}

/** What an SVD-family method decided for one 2-D weight (or that it fell back to task arithmetic). */
export interface SvdDiagnostics {
  /** The tensor was merged with task arithmetic instead (not 2-D, or an embedding). */
  fallback?: boolean;
  readonly spectra: SpectrumSummary[];
  /** low_rank_task_arithmetic with `energy`: the rank each task vector kept. */
  readonly energyRanks: ModelValue[];
  /** tsv: the rank kept per task vector. */
  tsvRank?: number;
  /** iso_c / iso_cts: the flat singular value σ̄, and for iso_cts the common and per-task ranks. */
  iso?: { readonly sigmaMean: number; readonly commonRank?: number; readonly taskRank?: number };
  /** lore: the mean number of singular values kept after shrinking, per coordinate-descent round. */
  readonly loreRankMean: number[];
}

/** Everything a merge reports about one output tensor. Empty lists: not measured for this method. */
export interface TensorDiagnostics {
  /** ‖δ_t‖ per model (task-vector methods with diagnostics on). */
  readonly norms: ModelValue[];
  /** cos(δ_a, δ_b) per pair of models. */
  readonly cosines: ModelPairValue[];
  /** Fraction of elements where two or more nonzero task vectors disagree in sign. */
  signConflicts?: number;
  /** Fraction of each task vector the sparsification drops (1 − density). */
  readonly trimmed: ModelValue[];
  /** Magnitude methods: the whole-tensor thresholds of each model's kept band. */
  readonly thresholds: TrimThreshold[];
  /** SLERP: θ = s0 θ₀ + s1 θ₁. */
  slerp?: { readonly s0: number; readonly s1: number };
  /** SVD family only. */
  svd?: SvdDiagnostics;
}

export function emptyDiagnostics(): TensorDiagnostics {
  return { norms: [], cosines: [], trimmed: [], thresholds: [] };
}

/** The SVD part of a tensor's record, created on first use. */
export function svdDiagnostics(d: TensorDiagnostics): SvdDiagnostics {
  d.svd ??= { spectra: [], energyRanks: [], loreRankMean: [] };
  return d.svd;
}

/** Whether a tensor has task-vector statistics (the UI's per-layer table shows only those). */
export function hasTaskVectorStats(d: TensorDiagnostics): boolean {
  const lists = [d.norms, d.cosines, d.trimmed, d.thresholds];
  return lists.some((l) => l.length > 0) || d.signConflicts !== undefined;
}

/** The spectrum of one task vector (or residual) of one weight, for plots. */
export interface SpectrumDiagnostics {
  readonly tensor: string;
  /** The model the matrix belongs to, or e.g. `mean` for Iso-C's mean task vector. */
  readonly model: string;
  /** What was decomposed: `task_vector`, `mean_task_vector`, `task_specific`, `residual` (Twin), `lore_delta`. */
  readonly matrix: string;
  readonly shape: readonly [number, number];
  /** Leading singular values, descending (the k+p Ritz values of the sketch). */
  readonly singularValues: readonly number[];
  /** ‖δ‖²_F: the exact total energy, so captured fractions are exact. */
  readonly totalEnergy: number;
  /** The rank the method kept. */
  readonly rank: number;
  /** Σ_{i≤rank} σ_i² / ‖δ‖²_F. */
  readonly energyAtRank: number;
  /** Smallest r with Σ_{i≤r} σ_i² ≥ 0.9 ‖δ‖²_F, or null when beyond the computed values. */
  readonly rank90: number | null;
  /**
   * Entropy effective rank exp(−Σ p_i ln p_i), p_i = σ_i/Σσ_j (Roy & Vetterli 2007), over the
   * computed values: exact when they cover min(m, n), a lower bound otherwise.
   */
  readonly effectiveRank: number;
}
