/** Metrics of one model on one problem set, and the paper's length change against a reference. */
import { REFLECTION_KEYWORDS, countReflections, isReflective } from './reflection';

/** Why a generation ended: its EOS token, a stop string, the new-token limit, or the model's context. */
export type StopReason = 'eos' | 'stop-string' | 'max-new-tokens' | 'context';

export interface ResponseRecord {
  readonly problemId: string;
  readonly level?: number;
  readonly text: string;
  /** Generated tokens, EOS excluded. */
  readonly tokens: number;
  readonly hitLimit: boolean;
  /** Why generation ended (absent in records made before it was kept). */
  readonly stop?: StopReason;
  readonly extracted: string | undefined;
  readonly rule: string;
  readonly correct: boolean;
}

export interface LevelMetrics {
  readonly level: number;
  readonly n: number;
  readonly accuracy: number;
  readonly meanTokens: number;
}

export interface SetMetrics {
  readonly n: number;
  readonly accuracy: number;
  readonly meanTokens: number;
  readonly medianTokens: number;
  readonly p90Tokens: number;
  readonly totalTokens: number;
  readonly hitLimit: number;
  readonly reflectiveRate: number;
  /** Mean occurrences per response of each reflection keyword. */
  readonly keywordFrequency: Readonly<Record<string, number>>;
  readonly byLevel: readonly LevelMetrics[];
}

/** Linear-interpolated quantile (numpy's default) of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export function computeMetrics(rs: readonly ResponseRecord[]): SetMetrics {
  const tokens = rs.map((r) => r.tokens);
  const sorted = [...tokens].sort((a, b) => a - b);
  const keywordFrequency: Record<string, number> = {};
  for (const k of REFLECTION_KEYWORDS) keywordFrequency[k] = 0;
  for (const r of rs)
    for (const [k, c] of Object.entries(countReflections(r.text))) keywordFrequency[k]! += c / rs.length;
  const levels = [...new Set(rs.map((r) => r.level).filter((l): l is number => l !== undefined))].sort((a, b) => a - b);
  return {
    n: rs.length,
    accuracy: mean(rs.map((r) => (r.correct ? 1 : 0))),
    meanTokens: mean(tokens),
    medianTokens: quantile(sorted, 0.5),
    p90Tokens: quantile(sorted, 0.9),
    totalTokens: tokens.reduce((a, b) => a + b, 0),
    hitLimit: rs.filter((r) => r.hitLimit).length,
    reflectiveRate: mean(rs.map((r) => (isReflective(r.text) ? 1 : 0))),
    keywordFrequency,
    byLevel: levels.map((level) => {
      const at = rs.filter((r) => r.level === level);
      return {
        level,
        n: at.length,
        accuracy: mean(at.map((r) => (r.correct ? 1 : 0))),
        meanTokens: mean(at.map((r) => r.tokens)),
      };
    }),
  };
}

/**
 * The paper's length reduction against a reference model: 1 − mean over sets of (L_model / L_ref),
 * with L the mean response length per set; 0.487 is shown as "−48.7%", as in the paper's tables.
 * Also the total-token ratio Σ tokens_model / Σ tokens_ref.
 */
export function lengthChange(
  model: readonly SetMetrics[],
  reference: readonly SetMetrics[],
): { reduction: number; totalTokenRatio: number } {
  if (model.length !== reference.length || model.length === 0)
    throw new Error('lengthChange: one metrics entry per problem set, for both models');
  const ratios = model.map((m, i) => m.meanTokens / reference[i]!.meanTokens);
  const total = model.reduce((a, m) => a + m.totalTokens, 0) / reference.reduce((a, m) => a + m.totalTokens, 0);
  return { reduction: 1 - mean(ratios), totalTokenRatio: total };
}
