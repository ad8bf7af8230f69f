/**
 * The Sens-Merging statistics file of one model: its per-layer sensitivities S^l on a calibration
 * set, the logit distances to the other models on that set (the cross-task factor's g), the
 * calibration samples themselves (token ids and which tokens enter the loss) and the reading of
 * every open choice, so that anyone can recompute the numbers with another framework. Small JSON,
 * keyed by model and calibration set; also the import format for statistics computed elsewhere.
 */
import { LabError } from '../errors';

export const SENS_STATS_FORMAT = 'merge-lab-sens-stats';

/** Σ over a layer's (or tensor's) scalars, mean over samples: |θ⊙g| summed (element-wise) and |Σθ⊙g| per tensor (tensor-wise). */
export interface SensValue {
  readonly elementwise: number;
  readonly tensorwise: number;
}

export interface SensStats {
  readonly format: typeof SENS_STATS_FORMAT;
  readonly version: 1;
  /** The model differentiated (a folder name, as recipes name models). */
  readonly model: string;
  /** What the merge checks a checkpoint against. */
  readonly architecture: { readonly layers: number; readonly hidden: number; readonly vocab: number };
  readonly calibration: {
    readonly set: string;
    /** `reference`: the set's own solutions; `responses`: a model's responses from an eval results file. */
    readonly text: 'reference' | 'responses';
    readonly answers: 'short' | 'long';
    readonly samples: number;
    readonly tokens: number;
    readonly targets: number;
    readonly seed: number;
    /** Tokens kept per sample (null: no cap). */
    readonly maxTokens: number | null;
  };
  /** Each open (UNVERIFIED) choice of the method and the reading used, in words. */
  readonly readings: Readonly<Record<string, string>>;
  readonly samples: readonly { readonly ids: readonly number[]; readonly targets: readonly number[] }[];
  readonly tensors: Readonly<Record<string, SensValue>>;
  /** Layer group (sensGroup) → S^l. */
  readonly layers: Readonly<Record<string, SensValue>>;
  /** Other model → mean per-position ‖z_other − z_this‖₂ on this file's samples (g_{other,this}). */
  readonly logitDistances: Readonly<Record<string, number>>;
}

export type SensStatsErrorCode = 'bad-sens-stats' | 'sens-wrong-model' | 'sens-missing-layer';

export class SensStatsError extends LabError {
  override readonly name = 'SensStatsError';
  constructor(
    readonly code: SensStatsErrorCode,
    file: string,
    detail: string,
    tensor?: string,
  ) {
    super(`${file}${tensor ? ` [${tensor}]` : ''}: ${detail}`, { file, ...(tensor ? { tensor } : {}) });
  }
}

/**
 * A parameter's layer group, as the only public re-implementation groups them (reference §2):
 * `model.layers.N` for everything in decoder block N; otherwise the tensor's own name minus
 * `.weight` (embeddings, final norm and lm_head are singleton groups).
 */
export function sensGroup(tensor: string): string {
  const block = /^(model\.layers\.\d+)\./.exec(tensor);
  return block ? block[1]! : tensor.replace(/\.weight$/, '');
}

export const isBlockGroup = (group: string): boolean => /^model\.layers\.\d+$/.test(group);

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isValue = (v: unknown): boolean => {
  const o = v as Partial<SensValue> | null;
  return !!o && isNum(o.elementwise) && o.elementwise >= 0 && isNum(o.tensorwise) && o.tensorwise >= 0;
};

export function parseSensStats(text: string, file: string): SensStats {
  let doc: Partial<SensStats>;
  try {
    doc = JSON.parse(text) as Partial<SensStats>;
  } catch (e) {
    throw new SensStatsError('bad-sens-stats', file, `not valid JSON (${(e as Error).message})`);
  }
  const bad = (detail: string) => new SensStatsError('bad-sens-stats', file, detail);
  if (!doc || doc.format !== SENS_STATS_FORMAT || doc.version !== 1) throw bad(`not a ${SENS_STATS_FORMAT} v1 file`);
  if (typeof doc.model !== 'string') throw bad("'model' must be a string");
  const a = doc.architecture;
  if (!a || ![a.layers, a.hidden, a.vocab].every((n) => Number.isInteger(n) && n > 0))
    throw bad("'architecture' must be {layers, hidden, vocab}");
  if (!doc.calibration || typeof doc.calibration.set !== 'string') throw bad("'calibration' must name its set");
  for (const key of ['layers', 'tensors'] as const) {
    const m = doc[key];
    if (!m || typeof m !== 'object') throw bad(`no '${key}'`);
    for (const [name, v] of Object.entries(m))
      if (!isValue(v)) throw bad(`${key}['${name}'] must be {elementwise, tensorwise}, non-negative numbers`);
  }
  const d = doc.logitDistances ?? {};
  for (const [name, v] of Object.entries(d))
    if (!isNum(v) || v < 0) throw bad(`logitDistances['${name}'] must be a non-negative number`);
  return { ...doc, logitDistances: d } as SensStats;
}

/**
 * Refuses statistics that do not belong to `model` (name and shape) or that lack a layer group
 * the checkpoint's tensors fall into, naming the layer.
 */
export function checkStatsFor(
  stats: SensStats,
  file: string,
  model: { name: string; layers: number; hidden: number; vocab: number; tensors: readonly string[] },
): void {
  if (stats.model !== model.name)
    throw new SensStatsError('sens-wrong-model', file, `statistics of model '${stats.model}', not '${model.name}'`);
  const a = stats.architecture;
  if (a.layers !== model.layers || a.hidden !== model.hidden || a.vocab !== model.vocab)
    throw new SensStatsError(
      'sens-wrong-model',
      file,
      `statistics of a model with ${a.layers} layers, hidden ${a.hidden}, vocab ${a.vocab}; '${model.name}' has ${model.layers}, ${model.hidden}, ${model.vocab}`,
    );
  for (const t of model.tensors) {
    const group = sensGroup(t);
    if (!stats.layers[group] && !(t === 'lm_head.weight' && stats.layers['model.embed_tokens']))
      throw new SensStatsError('sens-missing-layer', file, `no sensitivity for layer '${group}'`, t);
  }
}
