/**
 * Tiny generated Hugging Face checkpoints for tests. The safetensors encoder here is written
 * independently of src/core's writer, so reader and writer are each checked against it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type DType, encodeFromF32 } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { probeValues } from '../../src/gpu/dare-probe';
import { MapModelFolder } from '../../src/core/io/byte-source';

export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export function encodeSafetensors(tensors: RawTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let o = 8 + json.length;
  for (const t of tensors) {
    out.set(t.bytes, o);
    o += t.bytes.byteLength;
  }
  return out;
}

/** Deterministic pseudo-random floats (mulberry32) in [-scale, scale): the DARE probe's generator. */
export const randomFloats = probeValues;

export interface TinyModelOptions {
  seed: number;
  layers?: number;
  hidden?: number;
  intermediate?: number;
  vocab?: number;
  tied?: boolean;
  dtype?: DType;
  /** Number of shards (with an index) instead of one model.safetensors. */
  shards?: number;
  /** Values of this model = values of the model with `seed: like` plus noise of this scale (a fine-tune). */
  like?: { seed: number; scale: number };
  drop?: string[];
}

export function tinyTensorShapes(o: TinyModelOptions): [string, number[]][] {
  const h = o.hidden ?? 8;
  const inter = o.intermediate ?? 12;
  const v = o.vocab ?? 16;
  const kv = h / 2;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [v, h]]];
  for (let l = 0; l < (o.layers ?? 2); l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [h]],
      [`${p}.self_attn.q_proj.weight`, [h, h]],
      [`${p}.self_attn.q_proj.bias`, [h]],
      [`${p}.self_attn.k_proj.weight`, [kv, h]],
      [`${p}.self_attn.k_proj.bias`, [kv]],
      [`${p}.self_attn.v_proj.weight`, [kv, h]],
      [`${p}.self_attn.v_proj.bias`, [kv]],
      [`${p}.self_attn.o_proj.weight`, [h, h]],
      [`${p}.post_attention_layernorm.weight`, [h]],
      [`${p}.mlp.gate_proj.weight`, [inter, h]],
      [`${p}.mlp.up_proj.weight`, [inter, h]],
      [`${p}.mlp.down_proj.weight`, [h, inter]],
    );
  }
  shapes.push(['model.norm.weight', [h]]);
  if (!o.tied) shapes.push(['lm_head.weight', [v, h]]);
  return shapes.filter(([n]) => !o.drop?.includes(n));
}

/** f32 values of one tensor of a tiny model (before dtype rounding). */
export function tinyValues(o: TinyModelOptions, name: string, n: number): Float32Array {
  const salt = [...name].reduce((h, ch) => (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0, 7);
  if (o.like) {
    const base = randomFloats(n, (o.like.seed * 7919 + salt) >>> 0, 0.5);
    const noise = randomFloats(n, (o.seed * 104729 + salt) >>> 0, o.like.scale);
    return base.map((x, i) => x + noise[i]!);
  }
  return randomFloats(n, (o.seed * 7919 + salt) >>> 0, 0.5);
}

export function tinyModelFiles(o: TinyModelOptions): Map<string, Uint8Array> {
  const dtype = o.dtype ?? 'F32';
  const tensors: RawTensor[] = tinyTensorShapes(o).map(([name, shape]) => ({
    name,
    dtype,
    shape,
    bytes: encodeFromF32(
      tinyValues(
        o,
        name,
        shape.reduce((a, b) => a * b, 1),
      ),
      dtype,
    ),
  }));
  const files = new Map<string, Uint8Array>();
  const h = o.hidden ?? 8;
  const config = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_size: h,
    intermediate_size: o.intermediate ?? 12,
    num_hidden_layers: o.layers ?? 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    vocab_size: o.vocab ?? 16,
    tie_word_embeddings: !!o.tied,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    max_position_embeddings: 64,
    torch_dtype: dtype === 'F32' ? 'float32' : dtype === 'F16' ? 'float16' : 'bfloat16',
  };
  files.set('config.json', new TextEncoder().encode(JSON.stringify(config)));
  files.set('tokenizer_config.json', new TextEncoder().encode(JSON.stringify({ seed: o.seed })));
  const nShards = o.shards ?? 1;
  if (nShards === 1) {
    files.set('model.safetensors', encodeSafetensors(tensors, { format: 'pt' }));
  } else {
    const per = Math.ceil(tensors.length / nShards);
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < nShards; s++) {
      const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(nShards).padStart(5, '0')}.safetensors`;
      const part = tensors.slice(s * per, (s + 1) * per);
      for (const t of part) weightMap[t.name] = file;
      files.set(file, encodeSafetensors(part, { format: 'pt' }));
    }
    files.set(
      'model.safetensors.index.json',
      new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap })),
    );
  }
  return files;
}

export async function tinyCheckpoint(name: string, o: TinyModelOptions): Promise<Checkpoint> {
  return Checkpoint.open(new MapModelFolder(name, tinyModelFiles(o)));
}

export function writeTinyModel(dir: string, o: TinyModelOptions): void {
  mkdirSync(dir, { recursive: true });
  for (const [f, bytes] of tinyModelFiles(o)) writeFileSync(path.join(dir, f), bytes);
}
