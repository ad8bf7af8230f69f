/**
 * Activation statistics for AIM: for each linear weight, the mean |activation| of each input
 * channel on a calibration set, measured in the base model. Saved as a small JSON file keyed by
 * model and calibration set so that a calibration is reused.
 */
import { LabError } from '../errors';

export const ACTIVATION_STATS_FORMAT = 'merge-lab-activation-stats';

export interface ActivationStats {
  readonly format: typeof ACTIVATION_STATS_FORMAT;
  readonly version: 1;
  /** The model the calibration ran through (the merge's base θ₀). */
  readonly model: string;
  readonly calibration: { readonly set: string; readonly samples: number; readonly tokens: number };
  /** Linear weight name → mean |x_j| per input channel j. */
  readonly channels: Readonly<Record<string, readonly number[]>>;
}

export class ActivationStatsError extends LabError {
  override readonly name = 'ActivationStatsError';
  readonly code = 'bad-activation-stats';
  declare readonly file: string;
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`, { file });
  }
}

export function parseActivationStats(text: string, file: string): ActivationStats {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ActivationStatsError(file, `not valid JSON (${(e as Error).message})`);
  }
  const doc = (
    parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {}
  ) as Partial<ActivationStats>;
  if (doc.format !== ACTIVATION_STATS_FORMAT || doc.version !== 1)
    throw new ActivationStatsError(file, `not a ${ACTIVATION_STATS_FORMAT} v1 file`);
  if (typeof doc.model !== 'string') throw new ActivationStatsError(file, "'model' must be a string");
  const c = doc.calibration as Partial<ActivationStats['calibration']> | undefined;
  if (!c || typeof c !== 'object' || typeof c.set !== 'string' || !isCount(c.samples) || !isCount(c.tokens))
    throw new ActivationStatsError(file, "'calibration' must be {set, samples, tokens}");
  if (!doc.channels || typeof doc.channels !== 'object' || Array.isArray(doc.channels))
    throw new ActivationStatsError(file, "no 'channels'");
  for (const [name, v] of Object.entries(doc.channels))
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0))
      throw new ActivationStatsError(file, `channels['${name}'] must be non-negative numbers`);
  return doc as ActivationStats;
}

const isCount = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0;

/** s_j = mean|x_j| / max_j mean|x_j| for one weight (all zeros stay zeros). */
export function normalisedScale(channels: readonly number[]): Float32Array {
  let max = 0;
  for (const c of channels) if (c > max) max = c;
  return Float32Array.from(channels, (c) => (max > 0 ? c / max : 0));
}

/** AIM applies to linear weights only: embeddings, norms and the head are left as merged. */
export function aimApplies(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && !/embed_tokens|lm_head/.test(name);
}
