/**
 * Writes a random-weight checkpoint shaped like a real Qwen2.5 model (config.json and
 * safetensors, sharded with model.safetensors.index.json when a shard limit is given), for the
 * scale checks and benchmarks: nothing is downloaded, nothing is committed. Streams to disk in
 * 8 MiB pieces, so a 7B shape needs no more memory than a 0.5B one. Seeded and reproducible.
 *
 *   npx tsx tools/random-qwen.ts --shape 1.5b --dtype bf16 --out .scale/qwen2.5-1.5b-random
 *   [--layers N] [--max-shard-gb G] [--seed S]
 *
 * Weights: |w| in [2^-7, 2^-3) with random sign and mantissa (|w| ≈ 0.03 on average, the order
 * of a trained projection); norm weights 1; biases |b| in [2^-9, 2^-6).
 */
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

export interface QwenShape {
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  tied: boolean;
  maxPositions: number;
}

/** The Qwen2.5 sizes the paper's model pairs come in (head_dim = hidden / heads). */
export const QWEN_SHAPES: Record<'0.5b' | '1.5b' | '7b', QwenShape> = {
  '0.5b': {
    layers: 24,
    hidden: 896,
    intermediate: 4864,
    heads: 14,
    kvHeads: 2,
    vocab: 151936,
    tied: true,
    maxPositions: 32768,
  },
  '1.5b': {
    layers: 28,
    hidden: 1536,
    intermediate: 8960,
    heads: 12,
    kvHeads: 2,
    vocab: 151936,
    tied: true,
    maxPositions: 4096,
  },
  '7b': {
    layers: 28,
    hidden: 3584,
    intermediate: 18944,
    heads: 28,
    kvHeads: 4,
    vocab: 152064,
    tied: false,
    maxPositions: 4096,
  },
};

export type RandomDType = 'F32' | 'F16' | 'BF16';
const BYTES: Record<RandomDType, number> = { F32: 4, F16: 2, BF16: 2 };

/** Every tensor of the shape, in the order a Hugging Face Qwen2 checkpoint lists them. */
export function qwenTensors(s: QwenShape): [string, number[]][] {
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const out: [string, number[]][] = [['model.embed_tokens.weight', [s.vocab, s.hidden]]];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    out.push(
      [`${p}.input_layernorm.weight`, [s.hidden]],
      [`${p}.self_attn.q_proj.weight`, [s.hidden, s.hidden]],
      [`${p}.self_attn.q_proj.bias`, [s.hidden]],
      [`${p}.self_attn.k_proj.weight`, [kv, s.hidden]],
      [`${p}.self_attn.k_proj.bias`, [kv]],
      [`${p}.self_attn.v_proj.weight`, [kv, s.hidden]],
      [`${p}.self_attn.v_proj.bias`, [kv]],
      [`${p}.self_attn.o_proj.weight`, [s.hidden, s.hidden]],
      [`${p}.post_attention_layernorm.weight`, [s.hidden]],
      [`${p}.mlp.gate_proj.weight`, [s.intermediate, s.hidden]],
      [`${p}.mlp.up_proj.weight`, [s.intermediate, s.hidden]],
      [`${p}.mlp.down_proj.weight`, [s.hidden, s.intermediate]],
    );
  }
  out.push(['model.norm.weight', [s.hidden]]);
  if (!s.tied) out.push(['lm_head.weight', [s.vocab, s.hidden]]);
  return out;
}

/** xorshift32: a u32 stream. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

/** Fills `out` (elements of `dtype`, as raw bytes) with the tensor's random values. */
function fill(out: Uint8Array, dtype: RandomDType, name: string, next: () => number): void {
  const isNorm = name.endsWith('norm.weight');
  const isBias = name.endsWith('.bias');
  const lowExp = isBias ? 118 : 120; // f32 exponents: 2^-9 or 2^-7 …
  const count = out.byteLength / BYTES[dtype];
  const words16 = new Uint16Array(out.buffer, out.byteOffset, dtype === 'F32' ? 0 : count);
  const words32 = new Uint32Array(out.buffer, out.byteOffset, dtype === 'F32' ? count : 0);
  for (let i = 0; i < count; i++) {
    let bits: number;
    if (isNorm) bits = 0x3f800000;
    else {
      const r = next();
      bits = ((r & 1) << 31) | ((lowExp + ((r >>> 1) % 4)) << 23) | ((r >>> 3) & 0x7fffff);
    }
    if (dtype === 'F32') words32[i] = bits >>> 0;
    else if (dtype === 'BF16') words16[i] = bits >>> 16;
    // f16 (bias 15): every magnitude used here is a normal f16 number, so this is exact truncation.
    else words16[i] = ((bits >>> 16) & 0x8000) | ((((bits >>> 23) & 0xff) - 112) << 10) | ((bits >>> 13) & 0x3ff);
  }
}

/** GPT-2's byte-level alphabet: the printable character standing for each byte. */
function byteLevelAlphabet(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(printable(b) ? b : 256 + extra++));
}

const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

/**
 * A byte-level BPE tokenizer with no merges (every byte is a token) over the full vocabulary
 * (ids past the bytes decode as `w<id>`), Qwen's special tokens at 151643-151645 and a ChatML
 * template: enough to run prompts through a random checkpoint, not a real Qwen tokenizer.
 */
function writeTokenizer(dir: string, vocabSize: number): void {
  const vocab: Record<string, number> = {};
  byteLevelAlphabet().forEach((c, i) => (vocab[c] = i));
  const first = 151643;
  for (let i = 256; i < vocabSize; i++) if (i < first || i >= first + SPECIALS.length) vocab[`w${i}`] = i;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  const added = SPECIALS.map((content, i) => ({
    id: first + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  const template =
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const config = {
    added_tokens_decoder: Object.fromEntries(added.map(({ id, ...t }) => [String(id), t])),
    bos_token: null,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    chat_template: template,
    model_max_length: 131072,
    tokenizer_class: 'Qwen2Tokenizer',
  };
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
}

export interface RandomQwenOptions {
  shape: QwenShape;
  dtype: RandomDType;
  seed?: number;
  /** Split into shards of at most this many bytes (with an index); default one file. */
  maxShardBytes?: number;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/** Writes the checkpoint into `dir` (through `<dir>.partial`, renamed when complete). Returns its bytes. */
export async function writeRandomQwen(dir: string, o: RandomQwenOptions): Promise<number> {
  const tensors = qwenTensors(o.shape);
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1) * BYTES[o.dtype];
  const shards: [string, number[]][][] = [[]];
  let used = 0;
  for (const t of tensors) {
    if (o.maxShardBytes && used > 0 && used + size(t[1]) > o.maxShardBytes) {
      shards.push([]);
      used = 0;
    }
    shards[shards.length - 1]!.push(t);
    used += size(t[1]);
  }
  const names =
    shards.length === 1
      ? ['model.safetensors']
      : shards.map(
          (_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`,
        );
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const total = tensors.reduce((a, t) => a + size(t[1]), 0);
  let done = 0;
  const weightMap: Record<string, string> = {};
  for (const [s, shard] of shards.entries()) {
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let offset = 0;
    for (const [name, shape] of shard) {
      header[name] = { dtype: o.dtype, shape, data_offsets: [offset, offset + size(shape)] };
      offset += size(shape);
      weightMap[name] = names[s]!;
    }
    let json = JSON.stringify(header);
    while (json.length % 8) json += ' ';
    const ws = createWriteStream(path.join(partial, names[s]!));
    const write = (b: Uint8Array) => new Promise<void>((res, rej) => ws.write(b, (e) => (e ? rej(e) : res())));
    const head = new Uint8Array(8 + json.length);
    new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
    head.set(new TextEncoder().encode(json), 8);
    await write(head);
    const piece = 1 << 23;
    for (const [name, shape] of shard) {
      const salt = [...name].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, (o.seed ?? 1) >>> 0);
      const next = xorshift32(salt);
      const bytes = size(shape);
      for (let at = 0; at < bytes; at += piece) {
        const buf = new Uint8Array(Math.min(piece, bytes - at));
        fill(buf, o.dtype, name, next);
        await write(buf);
        done += buf.byteLength;
        o.onProgress?.(done, total);
      }
    }
    await new Promise<void>((res) => ws.end(res));
  }
  if (shards.length > 1)
    writeFileSync(
      path.join(partial, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 1),
    );
  const s = o.shape;
  const config = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_act: 'silu',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    vocab_size: s.vocab,
    max_position_embeddings: s.maxPositions,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: s.tied,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[o.dtype],
    bos_token_id: 151643,
    eos_token_id: 151643,
    use_sliding_window: false,
  };
  writeFileSync(path.join(partial, 'config.json'), JSON.stringify(config, null, 2));
  writeTokenizer(partial, s.vocab);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return total;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      shape: { type: 'string', default: '1.5b' },
      dtype: { type: 'string', default: 'bf16' },
      out: { type: 'string' },
      layers: { type: 'string' },
      'max-shard-gb': { type: 'string' },
      seed: { type: 'string', default: '1' },
    },
  });
  const preset = QWEN_SHAPES[values.shape as keyof typeof QWEN_SHAPES];
  const dtype = values.dtype!.toUpperCase() as RandomDType;
  if (!preset || !(dtype in BYTES) || !values.out) {
    console.error('usage: tools/random-qwen.ts --shape 0.5b|1.5b|7b --dtype f32|f16|bf16 --out DIR [--layers N]');
    process.exit(2);
  }
  const shape = { ...preset, ...(values.layers ? { layers: Number(values.layers) } : {}) };
  if (existsSync(path.join(values.out, 'config.json'))) console.error(`${values.out}: replacing`);
  let last = 0;
  const t0 = Date.now();
  const bytes = await writeRandomQwen(path.resolve(values.out), {
    shape,
    dtype,
    seed: Number(values.seed),
    ...(values['max-shard-gb'] ? { maxShardBytes: Number(values['max-shard-gb']) * 1e9 } : {}),
    onProgress: (d, t) => {
      const pct = Math.floor((100 * d) / t);
      if (pct >= last + 10) process.stderr.write(`  ${(last = pct)}%\n`);
    },
  });
  console.log(`${values.out}: ${(bytes / 1e9).toFixed(2)} GB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
