/** The parts of a Hugging Face `config.json` that merging and inference need. */
import { CheckpointError } from '../errors';
import { preview } from './preview';

export interface ModelConfig {
  readonly architecture: string;
  readonly modelType: string;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly tieWordEmbeddings: boolean;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: Readonly<Record<string, unknown>> | null;
  readonly maxPositionEmbeddings: number;
  readonly torchDtype: string | undefined;
  readonly useSlidingWindow: boolean;
  /** The untouched JSON, so that it can be copied to a merge's output as-is. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** Deeper than any real config.json (text_config → rope_scaling is 3); the raw JSON is re-serialised on output. */
export const MAX_CONFIG_DEPTH = 32;

/** Whether `v` nests deeper than `limit`, found without recursion (which a deep value would overflow). */
function nestsDeeper(v: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, depth] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(x)) stack.push([child, depth + 1]);
  }
  return false;
}

export function parseModelConfig(text: string, file = 'config.json'): ModelConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError('bad-config', file, `not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new CheckpointError('bad-config', file, 'not a JSON object');
  if (nestsDeeper(raw, MAX_CONFIG_DEPTH))
    throw new CheckpointError('bad-config', file, `nests deeper than ${MAX_CONFIG_DEPTH} levels`);
  const num = (key: string, fallback?: number): number => {
    const v = raw[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (v === undefined && fallback !== undefined) return fallback;
    throw new CheckpointError('bad-config', file, `'${key}' must be a number (got ${preview(v)})`);
  };
  /** A size or count: a positive whole number (inference sizes buffers from these). */
  const count = (key: string, fallback?: number): number => {
    const v = num(key, fallback);
    if (Number.isSafeInteger(v) && v > 0) return v;
    throw new CheckpointError('bad-config', file, `'${key}' must be a positive whole number (got ${v})`);
  };
  const positive = (key: string, fallback: number): number => {
    const v = num(key, fallback);
    if (v > 0) return v;
    throw new CheckpointError('bad-config', file, `'${key}' must be positive (got ${v})`);
  };
  const modelType = typeof raw.model_type === 'string' ? raw.model_type : 'unknown';
  const archs = raw.architectures;
  const architecture = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : modelType;
  const hiddenSize = count('hidden_size');
  const numHeads = count('num_attention_heads');
  return {
    architecture,
    modelType,
    hiddenSize,
    intermediateSize: count('intermediate_size'),
    numLayers: count('num_hidden_layers'),
    numHeads,
    numKvHeads: count('num_key_value_heads', numHeads),
    headDim: count('head_dim', hiddenSize / numHeads),
    vocabSize: count('vocab_size'),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
    rmsNormEps: positive('rms_norm_eps', 1e-6),
    ropeTheta: positive('rope_theta', 10000),
    ropeScaling: (raw.rope_scaling as Record<string, unknown> | null | undefined) ?? null,
    maxPositionEmbeddings: count('max_position_embeddings', 2048),
    torchDtype: typeof raw.torch_dtype === 'string' ? raw.torch_dtype : undefined,
    useSlidingWindow: raw.use_sliding_window === true,
    raw,
  };
}

/** Counts parameters as the config implies (Qwen2/Llama layout), for display. */
export function estimateParameters(c: ModelConfig): number {
  const h = c.hiddenSize;
  const kv = c.numKvHeads * c.headDim;
  const attn = h * c.numHeads * c.headDim * 2 + h * kv * 2;
  const mlp = 3 * h * c.intermediateSize;
  const embed = c.vocabSize * h * (c.tieWordEmbeddings ? 1 : 2);
  return embed + c.numLayers * (attn + mlp + 2 * h) + h;
}
