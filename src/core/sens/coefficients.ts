/**
 * Sens-Merging's per-(model, layer) coefficients from the models' statistics files (reference
 * §1.3–1.5): α_i^l = S_i^l / ‖S_i‖₂ over the layers; τ_i from the logit distances, L1-normalised
 * over the models; σ_i^l = softmax over models of α_i^l·τ_i / T; the task vector of model i in
 * layer l is weighted by w_i^l = K·σ_i^l (λ is applied outside, by task arithmetic).
 */
import { SensStatsError, type SensStats, isBlockGroup } from './stats';

export type SensitivityReading = 'elementwise' | 'tensorwise';
export type CrossTaskReading = 'distance' | 'inverse' | 'uniform';
export type GroupingReading = 'blocks_and_extras' | 'blocks_only';

/** The switches for each open choice; the defaults are the reference's chosen readings. */
export interface SensChoices {
  readonly temperature: number;
  readonly sensitivity: SensitivityReading;
  readonly crossTask: CrossTaskReading;
  readonly grouping: GroupingReading;
}

/** A recipe's `sens` block (settings.ts parses it): the choices plus each model's statistics file. */
export interface SensSettings extends SensChoices {
  /** Model reference → statistics file (as named in the recipe; the CLI reads it relative to the recipe). */
  readonly statistics: Readonly<Record<string, string>>;
}

export const DEFAULT_SENS_CHOICES: SensChoices = {
  temperature: 1,
  sensitivity: 'elementwise',
  crossTask: 'distance',
  grouping: 'blocks_and_extras',
};

export interface SensInput {
  readonly model: string;
  readonly file: string;
  readonly stats: SensStats;
}

export interface SensCoefficients {
  readonly models: readonly string[];
  /** Every layer group, blocks first in depth order, then the extra groups. */
  readonly groups: readonly string[];
  /** α per model per group (groups outside the normalisation: undefined). */
  readonly alpha: readonly (readonly (number | undefined)[])[];
  readonly tau: readonly number[];
  /** w = K·σ per model per group (groups outside the normalisation: 1). */
  readonly weight: readonly (readonly number[])[];
}

function orderedGroups(stats: SensStats): string[] {
  const names = Object.keys(stats.layers);
  const depth = (g: string) => Number(/\d+$/.exec(g)![0]);
  const blocks = names.filter(isBlockGroup).sort((a, b) => depth(a) - depth(b));
  return [...blocks, ...names.filter((g) => !isBlockGroup(g)).sort()];
}

function crossTask(inputs: readonly SensInput[], reading: CrossTaskReading): number[] {
  const K = inputs.length;
  if (K === 1 || reading === 'uniform') return inputs.map(() => 1 / K);
  // g_ij: distance between models i and j on model j's data, recorded in j's file.
  const out = inputs.map((a, i) => {
    let sum = 0;
    inputs.forEach((b, j) => {
      if (i === j) return;
      // Files name other models by their folder name (the recipe may use a path).
      const g = b.stats.logitDistances[a.stats.model] ?? b.stats.logitDistances[a.model];
      if (g === undefined)
        throw new SensStatsError(
          'bad-sens-stats',
          b.file,
          `no logit distance to '${a.model}'; run merge-lab sensitivity --model ${b.model} --compare ${a.model}`,
        );
      sum += g;
    });
    return reading === 'inverse' ? (sum > 0 ? 1 / sum : 0) : sum;
  });
  const total = out.reduce((x, y) => x + y, 0);
  return total > 0 ? out.map((x) => x / total) : inputs.map(() => 1 / K);
}

export function sensCoefficients(inputs: readonly SensInput[], c: SensChoices): SensCoefficients {
  if (inputs.length === 0) throw new Error('sensCoefficients: no models');
  if (!(c.temperature > 0)) throw new Error('sensCoefficients: temperature must be positive');
  const groups = orderedGroups(inputs[0]!.stats);
  const inNorm = (g: string) => c.grouping === 'blocks_and_extras' || isBlockGroup(g);
  const alpha = inputs.map(({ stats, file }) => {
    const s = groups.map((g) => {
      const v = stats.layers[g];
      if (!v) throw new SensStatsError('sens-missing-layer', file, `no sensitivity for layer '${g}'`);
      return inNorm(g) ? v[c.sensitivity] : undefined;
    });
    const norm = Math.sqrt(s.reduce<number>((a, x) => a + (x ?? 0) ** 2, 0));
    const counted = s.filter((x) => x !== undefined).length;
    return s.map((x) => (x === undefined ? undefined : norm > 0 ? x / norm : 1 / Math.sqrt(counted)));
  });
  for (const { stats } of inputs.slice(1))
    for (const g of Object.keys(stats.layers))
      if (!groups.includes(g))
        throw new SensStatsError('sens-missing-layer', inputs[0]!.file, `no sensitivity for layer '${g}'`);
  const tau = crossTask(inputs, c.crossTask);
  const K = inputs.length;
  const weight = inputs.map(() => groups.map(() => 1));
  groups.forEach((g, l) => {
    if (!inNorm(g)) return;
    const logits = inputs.map((_, i) => (alpha[i]![l]! * tau[i]!) / c.temperature);
    const max = Math.max(...logits);
    const e = logits.map((z) => Math.exp(z - max));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((x, i) => (weight[i]![l] = (K * x) / sum));
  });
  return { models: inputs.map((x) => x.model), groups, alpha, tau, weight };
}
