/**
 * What a merge reports about each tensor, as typed records: task-vector statistics (norms,
 * cosines, sign conflicts, trimming thresholds), SLERP coefficients, and what the SVD merges
 * decided (kept ranks, spectra). Methods fill a tensor's record through its job; the merge hands
 * it to MergeOptions.onTensor and keeps it in MergeSummary.diagnostics. Plain data: it crosses
 * worker boundaries by structured clone. Also: where a tensor sits in the layer × module heatmaps,
 * and the sign-conflict count on any backend.
 */
import { decodeToF32 } from '../dtype';
import { signConflicts } from '../kernels/sign-conflicts';
import type { TensorBackend } from './backend';

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

/** The seven linear modules of a decoder layer, in the order the heatmaps draw them. */
export const MODULES = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type ModuleName = (typeof MODULES)[number];

/** Where a tensor sits in the layer × module grid: `…layers.3.self_attn.q_proj.weight` → layer 3, `q`. */
export function layerModuleOf(tensor: string): { layer: number; module: ModuleName } | undefined {
  const m = /(?:^|\.)layers\.(\d+)\.(?:.+\.)?(q|k|v|o|gate|up|down)_proj\.weight$/.exec(tensor);
  return m ? { layer: Number(m[1]), module: m[2] as ModuleName } : undefined;
}

/** The figures a heatmap can show, one number per tensor. */
export type HeatmapMetric = 'norm' | 'cosine' | 'signConflicts' | 'trimmed';
export const HEATMAP_METRICS: readonly HeatmapMetric[] = ['norm', 'cosine', 'signConflicts', 'trimmed'];

const mean = (xs: readonly { value: number }[]) =>
  xs.length ? xs.reduce((s, x) => s + x.value, 0) / xs.length : undefined;

/**
 * One tensor's figure for a heatmap: ‖δ‖ and the trimmed fraction averaged over the models, cos(δ_a, δ_b)
 * averaged over the pairs (with two task vectors: the one cosine), the sign-conflict fraction as is.
 */
export function metricValue(d: TensorDiagnostics, metric: HeatmapMetric): number | undefined {
  switch (metric) {
    case 'norm':
      return mean(d.norms);
    case 'cosine':
      return mean(d.cosines);
    case 'signConflicts':
      return d.signConflicts;
    case 'trimmed':
      return mean(d.trimmed);
  }
}

export interface HeatmapCell {
  readonly layer: number;
  readonly module: ModuleName;
  readonly tensor: string;
  readonly value: number;
  readonly diagnostics: TensorDiagnostics;
}

/** A layer × module grid of one figure: rows[i][j] is layer `layers[i]`, module MODULES[j] (absent: not measured). */
export interface Heatmap {
  readonly metric: HeatmapMetric;
  readonly layers: readonly number[];
  readonly rows: readonly (readonly (HeatmapCell | undefined)[])[];
  readonly min: number;
  readonly max: number;
}

/**
 * The layer × module grid of `metric` over a merge's per-tensor diagnostics; undefined when no
 * tensor of the grid has that figure (e.g. cosines with one task vector). Every layer that has a
 * module tensor gets a row, so the grid is layers × 7.
 */
export function heatmapOf(
  records: readonly { readonly tensor: string; readonly diagnostics: TensorDiagnostics }[],
  metric: HeatmapMetric,
): Heatmap | undefined {
  const byLayer = new Map<number, (HeatmapCell | undefined)[]>();
  for (const { tensor, diagnostics } of records) {
    const at = layerModuleOf(tensor);
    if (!at) continue;
    const row = byLayer.get(at.layer) ?? MODULES.map(() => undefined);
    byLayer.set(at.layer, row);
    const value = metricValue(diagnostics, metric);
    if (value !== undefined && Number.isFinite(value))
      row[MODULES.indexOf(at.module)] = { ...at, tensor, value, diagnostics };
  }
  const layers = [...byLayer.keys()].sort((a, b) => a - b);
  const values = layers.flatMap((l) => byLayer.get(l)!.flatMap((c) => (c ? [c.value] : [])));
  if (!values.length) return undefined;
  return {
    metric,
    layers,
    rows: layers.map((l) => byLayer.get(l)!),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/**
 * Elements of one chunk where nonzero task vectors disagree in sign: the backend's reduction when it
 * has one, else the CPU count over the task vectors read back as f32 (signs survive exactly).
 */
export async function signConflictCount<T>(be: TensorBackend<T>, deltas: readonly T[]): Promise<number> {
  if (be.signConflicts) return be.signConflicts(deltas);
  const values = await Promise.all(deltas.map(async (d) => decodeToF32(await be.store(d, 'F32'), 'F32')));
  return signConflicts(values);
}
