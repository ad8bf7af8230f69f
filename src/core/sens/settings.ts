/**
 * The `sens` block of a recipe: Sens-Merging's per-layer weights on `sens_merging` (task arithmetic)
 * or on task_arithmetic, ties, dare_linear and dare_ties. It names each model's statistics file and
 * the reading of every open (UNVERIFIED) choice; compile.ts turns it into per-layer weight lists.
 *
 *   sens:
 *     statistics: {demo-slow: slow.short.json, demo-quick: quick.long.json}
 *     temperature: 3.0               # T
 *     sensitivity: elementwise       # or tensorwise
 *     cross_task: distance           # or inverse, uniform
 *     grouping: blocks_and_extras    # or blocks_only
 */
import { RecipeError } from '../errors';
import type { ParameterDef } from '../merge/methods/parameters';
import { DEFAULT_SENS_CHOICES, type SensChoices, type SensSettings } from './coefficients';

export type { SensSettings };

export const SENS_METHOD = 'sens_merging';
/** The methods a `sens` block can weight: the task-vector core without sparsification by rank. */
export const SENS_CARRIERS: readonly string[] = [SENS_METHOD, 'task_arithmetic', 'ties', 'dare_linear', 'dare_ties'];

/** T, drawn and checked like a parameter (the UI's slider, the parser's range). */
export const SENS_TEMPERATURE: ParameterDef = {
  name: 'temperature',
  type: 'number',
  scope: 'global',
  range: [1e-3, 1e6],
  slider: { min: 0.25, max: 8, step: 0.25 },
  default: DEFAULT_SENS_CHOICES.temperature,
  mergekit: false,
  label: 'temperature (T)',
  description: 'softmax temperature over the models: 3.0 at 1.5B, 2.0 at 7B, 6.0 at 14B in the paper',
};

/** One switch for an open choice: its key in the `sens` block, its readings (the default first), and why. */
export interface SensSwitch {
  readonly key: 'sensitivity' | 'cross_task' | 'grouping';
  readonly field: 'sensitivity' | 'crossTask' | 'grouping';
  readonly values: readonly string[];
  readonly description: string;
}

export const SENS_SWITCHES: readonly SensSwitch[] = [
  {
    key: 'sensitivity',
    field: 'sensitivity',
    values: ['elementwise', 'tensorwise'],
    description: 'Σ|θ⊙g| element-wise (default), or Σ over tensors of |Σθ⊙g|',
  },
  {
    key: 'cross_task',
    field: 'crossTask',
    values: ['distance', 'inverse', 'uniform'],
    description: 'τ from the logit distances (default), their inverse, or no cross-task factor',
  },
  {
    key: 'grouping',
    field: 'grouping',
    values: ['blocks_and_extras', 'blocks_only'],
    description: 'decoder blocks plus embeddings, final norm and lm_head (default), or blocks only (extras keep w = 1)',
  },
];

type Doc = Record<string, unknown>;
const isRecord = (x: unknown): x is Doc => !!x && typeof x === 'object' && !Array.isArray(x);

/** The `sens` block of a recipe whose merge_method is `method`; undefined when there is none. */
export function parseSensSettings(raw: unknown, method: string): SensSettings | undefined {
  // sens_merging without a block parses (the page picks the method before it has statistics); compiling refuses it.
  if (raw === undefined || raw === null) return undefined;
  if (!SENS_CARRIERS.includes(method))
    throw new RecipeError('sens', `a sens block weights ${SENS_CARRIERS.join(', ')}; not ${method}`);
  if (!isRecord(raw)) throw new RecipeError('sens', 'must be a mapping such as {temperature: 3, statistics: {…}}');
  const known = ['statistics', 'temperature', ...SENS_SWITCHES.map((s) => s.key)];
  for (const k of Object.keys(raw))
    if (!known.includes(k)) throw new RecipeError(`sens.${k}`, `unknown key (known: ${known.join(', ')})`);
  const temperature = raw.temperature ?? DEFAULT_SENS_CHOICES.temperature;
  const [lo, hi] = SENS_TEMPERATURE.range!;
  if (typeof temperature !== 'number' || !(temperature >= lo && temperature <= hi))
    throw new RecipeError('sens.temperature', `must be a number in [${lo}, ${hi}]`);
  const stats = raw.statistics;
  if (!isRecord(stats) || !Object.values(stats).every((f) => typeof f === 'string' && f))
    throw new RecipeError('sens.statistics', 'must map each model to its statistics file (merge-lab sensitivity)');
  const choices: Record<string, string> = {};
  for (const s of SENS_SWITCHES) {
    const v = raw[s.key] ?? s.values[0];
    if (typeof v !== 'string' || !s.values.includes(v))
      throw new RecipeError(`sens.${s.key}`, `must be one of ${s.values.join(', ')}`);
    choices[s.field] = v;
  }
  return {
    ...(choices as unknown as Omit<SensChoices, 'temperature'>),
    temperature,
    statistics: { ...stats },
  } as SensSettings;
}

/** The block as YAML writes it (every key, so a recipe records its readings). */
export function sensSettingsToObject(s: SensSettings): Doc {
  return {
    temperature: s.temperature,
    statistics: { ...s.statistics },
    ...Object.fromEntries(SENS_SWITCHES.map((w) => [w.key, s[w.field]])),
  };
}

/** What mergekit does with a recipe that has a `sens` block (export notes, warnings). */
export const SENS_MERGEKIT_NOTE =
  'sens: mergekit has no Sens-Merging; export the compiled recipe instead (the same method with per-layer ' +
  'weight lists computed from the statistics files), which mergekit runs as written';
