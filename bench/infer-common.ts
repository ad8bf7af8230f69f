/**
 * What bench/infer.ts and its measuring children share: the rates one run yields and how the best
 * of several runs is kept, the memcpy bandwidth, and the weight bytes a decode step reads in each
 * weight format (the bandwidth bound beside each decode figure).
 */

/** Tokens/s, wall clock and per CPU-second, of one run or the best of several. */
export interface Rates {
  prefill_tok_s: number;
  decode_tok_s: number;
  ttft_ms: number;
  prefill_tok_cpu_s: number;
  decode_tok_cpu_s: number;
}

/** Each rate's best over the runs (the least disturbed run), the time to first token's least. */
export function bestOf(a: Rates | undefined, b: Rates): Rates {
  if (!a) return b;
  return {
    prefill_tok_s: Math.max(a.prefill_tok_s, b.prefill_tok_s),
    decode_tok_s: Math.max(a.decode_tok_s, b.decode_tok_s),
    ttft_ms: Math.min(a.ttft_ms, b.ttft_ms),
    prefill_tok_cpu_s: Math.max(a.prefill_tok_cpu_s, b.prefill_tok_cpu_s),
    decode_tok_cpu_s: Math.max(a.decode_tok_cpu_s, b.decode_tok_cpu_s),
  };
}

/** One engine's measurement of one row, as its child process prints it. */
export interface Measured {
  rates: Rates;
  ids: number[];
  reps: number;
  new_tokens: number;
  /** Peak resident memory of the measuring process (load, packing and runs together). */
  max_rss_bytes: number;
  /** Resident memory after the timed runs, the session still open (the steady state). */
  end_rss_bytes: number;
  load_s: number;
}

export type WeightFormat = 'f32' | 'f16' | 'q4';

/**
 * Best of `n` copies of a 256 MiB buffer, as bytes copied per second (each copy also writes as
 * many bytes as it reads, so a pure read stream, like decode's, can run faster than this).
 */
export function memcpyGBs(n = 8): number {
  const size = 256 * 2 ** 20;
  const src = Buffer.alloc(size, 1);
  const dst = Buffer.alloc(size);
  src.copy(dst); // faults the pages in
  let best = Infinity;
  for (let r = 0; r < n; r++) {
    const t0 = performance.now();
    src.copy(dst);
    best = Math.min(best, performance.now() - t0);
  }
  return size / 1e9 / (best / 1000);
}

/** The config.json fields the byte count needs (Hugging Face Qwen2 / Llama names). */
interface DecoderConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  vocab_size: number;
}

/** Elements of the matrices one decode step reads: every layer's seven projections and the lm_head. */
export function decodeMatrixElements(c: DecoderConfig): number {
  const d = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const q = c.num_attention_heads * d;
  const kv = (c.num_key_value_heads ?? c.num_attention_heads) * d;
  const layer = c.hidden_size * (q + 2 * kv) + q * c.hidden_size + 3 * c.hidden_size * c.intermediate_size;
  return c.num_hidden_layers * layer + c.vocab_size * c.hidden_size;
}

/**
 * Bytes per matrix element a decode step reads on the wasm EP: f32 4; f16 also 4 (ORT folds the
 * f16→f32 Cast into an f32 initializer when the session is created); q4 half a byte plus one f32
 * scale per block. Norms, biases, the embedding row gathered and the KV cache are not counted.
 */
export function bytesPerElement(format: WeightFormat, blockSize: number): number {
  return format === 'q4' ? 0.5 + 4 / blockSize : 4;
}
