/**
 * Model shapes the inference tests share: the Qwen2.5 configs the memory plan is checked against,
 * and small generated checkpoints with head_dim 64 and 128 (test/helpers/checkpoints.ts).
 */
import { parseModelConfig } from '../../src/core/formats/model-config';
import type { TinyModelOptions } from '../helpers/checkpoints';

/** A Qwen2 config from its fields. */
export const qwen = (fields: Record<string, unknown>) =>
  parseModelConfig(JSON.stringify({ architectures: ['Qwen2ForCausalLM'], ...fields }));

export const QWEN_05B_FIELDS = {
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  tie_word_embeddings: true,
  max_position_embeddings: 32768,
};
export const QWEN_15B_FIELDS = {
  hidden_size: 1536,
  intermediate_size: 8960,
  num_hidden_layers: 28,
  num_attention_heads: 12,
  num_key_value_heads: 2,
  head_dim: 128,
  vocab_size: 151936,
  tie_word_embeddings: true,
  max_position_embeddings: 4096, // as Qwen2.5-Math-1.5B ships it
};
export const QWEN_7B_FIELDS = {
  hidden_size: 3584,
  intermediate_size: 18944,
  num_hidden_layers: 28,
  num_attention_heads: 28,
  num_key_value_heads: 4,
  vocab_size: 152064,
  tie_word_embeddings: false,
  max_position_embeddings: 32768,
};

/** Qwen2-shaped tiny checkpoints: 2 heads over 1 KV head, so head_dim = hidden / 2. */
export const HEAD64: TinyModelOptions = { seed: 64, hidden: 128, intermediate: 256, vocab: 96, layers: 2 };
export const HEAD128: TinyModelOptions = {
  seed: 128,
  hidden: 256,
  intermediate: 256,
  vocab: 80,
  layers: 2,
  tied: true,
  dtype: 'BF16',
};
