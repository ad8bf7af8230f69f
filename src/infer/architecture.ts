/**
 * What the inference graph supports, decided from config.json alone (plus which bias tensors the
 * checkpoint has). Anything outside this list is refused with an error that says what would work.
 *
 * Supported: Qwen2ForCausalLM, LlamaForCausalLM, MistralForCausalLM (Qwen2.5 0.5B–7B,
 * DeepSeek-R1-Distill-Qwen, Llama 3.x, Mistral): RMSNorm, rotary embeddings (rope_theta; rope_scaling
 * none / default / linear / llama3), grouped-query attention, q/k/v biases, SwiGLU (silu) MLP,
 * tied or untied lm_head.
 */
import type { ModelConfig } from '../core/formats/model-config';
import { InferError } from './errors';

export const SUPPORTED_ARCHITECTURES = ['Qwen2ForCausalLM', 'LlamaForCausalLM', 'MistralForCausalLM'] as const;
export const SUPPORTED_ROPE_SCALING = ['none', 'default', 'linear', 'llama3'] as const;

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface ModelSpec {
  readonly architecture: (typeof SUPPORTED_ARCHITECTURES)[number];
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocab: number;
  readonly tied: boolean;
  readonly eps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling;
  /** q/k/v projections have biases (Qwen2 always; Llama/Mistral when `attention_bias`). */
  readonly qkvBias: boolean;
  /** config.json's max_position_embeddings: the positions the model was trained on. Longer
   *  sequences still run (rotary values are computed per position in the graph) with a warning. */
  readonly maxPositions: number;
  /** The graph's hard limit on a sequence (prompt + generated): a Mistral sliding window when one
   *  is declared (within it, sliding-window attention equals the graph's full attention; past it,
   *  they differ), otherwise Infinity. */
  readonly maxContext: number;
}

const num = (raw: Record<string, unknown>, key: string): number | undefined =>
  typeof raw[key] === 'number' ? (raw[key] as number) : undefined;

function unsupported(what: string): InferError {
  return new InferError(
    'unsupported-feature',
    `${what}. Supported: ${SUPPORTED_ARCHITECTURES.join(', ')} with RMSNorm, rope_scaling ${SUPPORTED_ROPE_SCALING.join('/')}, GQA, q/k/v biases, SwiGLU (silu), tied or untied lm_head`,
  );
}

function parseRopeScaling(rs: Readonly<Record<string, unknown>> | null): RopeScaling {
  if (!rs) return { type: 'none' };
  const type = String(rs.rope_type ?? rs.type ?? 'default');
  const f = (k: string, d?: number): number => {
    const v = rs[k];
    if (typeof v === 'number') return v;
    if (d !== undefined) return d;
    throw unsupported(`rope_scaling '${type}' needs a numeric '${k}'`);
  };
  if (type === 'default') return { type: 'none' };
  if (type === 'linear') return { type: 'linear', factor: f('factor') };
  if (type === 'llama3')
    return {
      type: 'llama3',
      factor: f('factor'),
      lowFreqFactor: f('low_freq_factor', 1),
      highFreqFactor: f('high_freq_factor', 4),
      originalMaxPositions: f('original_max_position_embeddings', 8192),
    };
  throw new InferError(
    'unsupported-feature',
    `rope_scaling type '${type}' is not supported; supported rope_scaling: ${SUPPORTED_ROPE_SCALING.join(', ')}`,
  );
}

/** Validates a config for the inference graph. `hasQkvBias` says whether the checkpoint holds q_proj.bias. */
export function modelSpec(c: ModelConfig, hasQkvBias: boolean): ModelSpec {
  const raw = c.raw as Record<string, unknown>;
  const arch = SUPPORTED_ARCHITECTURES.find((a) => a === c.architecture);
  if (!arch)
    throw new InferError(
      'unsupported-architecture',
      `architecture '${c.architecture}' (model_type '${c.modelType}') is not supported; supported architectures: ${SUPPORTED_ARCHITECTURES.join(', ')}`,
    );
  for (const moe of ['num_local_experts', 'num_experts', 'n_routed_experts'])
    if (num(raw, moe) !== undefined && num(raw, moe)! > 0)
      throw unsupported(`mixture-of-experts ('${moe}': ${raw[moe]}) is not supported`);
  const act = String(raw.hidden_act ?? raw.hidden_activation ?? 'silu');
  if (act !== 'silu') throw unsupported(`hidden_act '${act}' is not supported (only 'silu', the SwiGLU MLP)`);
  if (raw.mlp_bias === true) throw unsupported(`'mlp_bias': true is not supported`);
  if (c.hiddenSize % c.numHeads !== 0 && raw.head_dim === undefined)
    throw unsupported(`hidden_size ${c.hiddenSize} is not divisible by num_attention_heads ${c.numHeads}`);
  if (c.numHeads % c.numKvHeads !== 0)
    throw unsupported(`num_attention_heads ${c.numHeads} is not a multiple of num_key_value_heads ${c.numKvHeads}`);
  if (c.headDim % 2 !== 0) throw unsupported(`head_dim ${c.headDim} is odd; rotary embeddings need an even head_dim`);
  if (raw.partial_rotary_factor !== undefined && raw.partial_rotary_factor !== 1)
    throw unsupported(`partial_rotary_factor ${raw.partial_rotary_factor} is not supported`);

  // Sliding-window attention. Qwen2 turns it on with use_sliding_window (then max_window_layers
  // decides which layers): refused. Mistral always declares `sliding_window`: inside the window
  // it equals full causal attention, so the context is capped at the window instead.
  let maxContext = Number.POSITIVE_INFINITY;
  if (arch === 'Qwen2ForCausalLM' && c.useSlidingWindow)
    throw unsupported(`sliding-window attention ('use_sliding_window': true) is not supported`);
  const window = num(raw, 'sliding_window');
  if (arch === 'MistralForCausalLM' && window !== undefined && raw.sliding_window !== null) maxContext = window;

  const qkvBias = arch === 'Qwen2ForCausalLM' ? true : raw.attention_bias === true;
  if (qkvBias !== hasQkvBias)
    throw new InferError(
      'missing-weight',
      qkvBias
        ? `config implies q/k/v biases but the checkpoint has no 'model.layers.0.self_attn.q_proj.bias'`
        : `the checkpoint has q/k/v biases but the config does not declare 'attention_bias': true`,
    );
  return {
    architecture: arch,
    hidden: c.hiddenSize,
    intermediate: c.intermediateSize,
    layers: c.numLayers,
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    vocab: c.vocabSize,
    tied: c.tieWordEmbeddings,
    eps: c.rmsNormEps,
    ropeTheta: c.ropeTheta,
    ropeScaling: parseRopeScaling(c.ropeScaling),
    qkvBias,
    maxPositions: c.maxPositionEmbeddings,
    maxContext,
  };
}

/**
 * Rotary inverse frequencies, [headDim/2], as transformers computes them (f64 math, then f32):
 * inv_freq[i] = 1 / theta^(2i/d), then the rope_scaling rule.
 */
export function ropeInvFreq(spec: Pick<ModelSpec, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float32Array {
  const half = spec.headDim / 2;
  const out = new Float32Array(half);
  const rs = spec.ropeScaling;
  for (let i = 0; i < half; i++) {
    // transformers: 1 / base ** (arange(0, dim, 2).float() / dim), in f32.
    const exponent = Math.fround(Math.fround(2 * i) / spec.headDim);
    let f = Math.fround(1 / Math.fround(spec.ropeTheta ** exponent));
    if (rs.type === 'linear') f = Math.fround(f / rs.factor);
    else if (rs.type === 'llama3') {
      const lowWavelen = rs.originalMaxPositions / rs.lowFreqFactor;
      const highWavelen = rs.originalMaxPositions / rs.highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) f = f / rs.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (rs.originalMaxPositions / wavelen - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor);
        f = (1 - smooth) * (f / rs.factor) + smooth * f;
      }
      f = Math.fround(f);
    }
    out[i] = f;
  }
  return out;
}
