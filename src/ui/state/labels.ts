/** How the lab names a model in tables and charts: a sweep point by its swept value (α = 0.5). */
import type { MergeRecord } from '../../browser/merge-store';

/** How the lab writes a swept parameter: the paper's symbols where it has them. */
const SYMBOLS: Readonly<Record<string, string>> = { weight: 'α', lambda: 'λ', gamma: 'γ', t: 't', density: 'density' };

/** The parameters a sweep can vary. */
export const SWEEP_PARAMETERS = Object.keys(SYMBOLS);

/** The label of a sweep point, e.g. `α = 0.5`. */
export function sweepLabel(param: string, value: number): string {
  return `${SYMBOLS[param] ?? param} = ${value}`;
}

/** A model's name in results: its sweep value when it is a sweep point, else its name. */
export function modelLabel(name: string, record: (name: string) => MergeRecord | undefined): string {
  const sweep = record(name)?.sweep;
  return sweep ? sweepLabel(sweep.param, sweep.value) : name;
}
