/**
 * Generates three checkpoints shaped like Qwen2.5-0.5B (24 layers, hidden 896, MLP 4864,
 * 14 heads / 2 KV heads, vocab 151936, tied embeddings; 494 M parameters) with random f16
 * weights, about 1 GB each, for the merge benchmark:
 *   bench/.data/qwen-base   random weights (|w| in [2^-7, 2^-2), random signs)
 *   bench/.data/qwen-ft1    base + a small perturbation of every weight (a "fine-tune")
 *   bench/.data/qwen-ft2    another one
 * Streams to disk (never holds a model in memory). Skips models that already exist.
 *   npx tsx bench/gen-qwen-checkpoints.ts [--out bench/.data] [--layers 24]
 */
import { createWriteStream, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { QWEN_SHAPES, qwenTensors, xorshift32 } from '../tools/random-qwen';

const { values } = parseArgs({ options: { out: { type: 'string' }, layers: { type: 'string', default: '24' } } });
const OUT = path.resolve(values.out ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '.data'));
const LAYERS = Number(values.layers);
const SHAPE = { ...QWEN_SHAPES['0.5b'], layers: LAYERS };
const { hidden: H, intermediate: I, vocab: V } = SHAPE;

/** f16 bits of a random weight: sign, exponent 8..12 (2^-7 … 2^-3), random mantissa. */
function fillBase(out: Uint16Array, next: () => number) {
  for (let i = 0; i < out.length; i++) {
    const r = next();
    out[i] = (r & 0x8000) | ((8 + ((r >>> 16) % 5)) << 10) | (r & 0x3ff);
  }
}
/** A fine-tune: nudges each mantissa by −16…+15 ulp (stays finite, same sign). */
function perturb(out: Uint16Array, next: () => number) {
  for (let i = 0; i < out.length; i++) out[i] = out[i]! + (((next() & 31) - 16) | 0);
}

async function writeModel(name: string, variant: number) {
  const dir = path.join(OUT, name);
  if (existsSync(path.join(dir, 'model.safetensors'))) {
    console.log(`${dir}: exists`);
    return;
  }
  mkdirSync(dir, { recursive: true });
  const shapes = qwenTensors(SHAPE);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [n, shape] of shapes) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[n] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const tmp = path.join(dir, 'model.safetensors.tmp');
  const ws = createWriteStream(tmp);
  const write = (b: Uint8Array) => new Promise<void>((res, rej) => ws.write(b, (e) => (e ? rej(e) : res())));
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(new TextEncoder().encode(json), 8);
  await write(head);
  const CH = 1 << 22;
  for (const [n, shape] of shapes) {
    const numel = shape.reduce((a, b) => a * b, 1);
    const salt = [...n].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
    const base = xorshift32(salt);
    const noise = xorshift32(salt ^ (variant * 0x9e3779b9));
    for (let s = 0; s < numel; s += CH) {
      const buf = new Uint16Array(Math.min(CH, numel - s));
      fillBase(buf, base);
      if (variant) perturb(buf, noise);
      await write(new Uint8Array(buf.buffer));
    }
  }
  await new Promise<void>((res) => ws.end(res));
  renameSync(tmp, path.join(dir, 'model.safetensors'));
  const config = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_size: H,
    intermediate_size: I,
    num_hidden_layers: LAYERS,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    vocab_size: V,
    tie_word_embeddings: true,
    torch_dtype: 'float16',
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    max_position_embeddings: 32768,
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  console.log(`${dir}: ${(offset / 1e9).toFixed(2)} GB`);
}

const t0 = Date.now();
await writeModel('qwen-base', 0);
await writeModel('qwen-ft1', 1);
await writeModel('qwen-ft2', 2);
console.log(`generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
