/**
 * The weights a weight format computes with, as a plain f32 checkpoint for test/infer/reference.ts:
 * q4 linear weights dequantized (unpackQ4 ∘ packQ4), f16 ones rounded to f16, norms and biases
 * unchanged. Under q4 the embedding is the q4-dequantized table too, and a tied lm_head is written out
 * as an explicit copy of it.
 */
import { decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { type Q4BlockSize, packQ4, unpackQ4 } from '../../src/core/kernels/q4-pack';
import { type RawTensor, encodeSafetensors } from '../helpers/checkpoints';

const LINEAR = /(_proj\.weight|^lm_head\.weight)$/;
const f16Round = (v: Float32Array) => decodeToF32(encodeFromF32(v, 'F16'), 'F16');

export async function computedWeights(
  ckpt: Checkpoint,
  format: 'f16' | 'q4',
  blockSize: Q4BlockSize = 32,
): Promise<Checkpoint> {
  const tensors: RawTensor[] = [];
  const add = (name: string, shape: readonly number[], v: Float32Array) =>
    tensors.push({ name, dtype: 'F32', shape: [...shape], bytes: encodeFromF32(v, 'F32') });
  const q4 = (v: Float32Array, [n, k]: readonly number[]) => unpackQ4(packQ4(v, n!, k!, blockSize), n!, k!, blockSize);
  for (const [name, t] of ckpt.tensors) {
    const v = decodeToF32(await t.file.readRange(name), t.dtype);
    if (name === 'model.embed_tokens.weight') {
      add(name, t.shape, format === 'q4' ? q4(v, t.shape) : f16Round(v));
      if (!ckpt.tensor('lm_head.weight'))
        add('lm_head.weight', t.shape, format === 'q4' ? q4(v, t.shape) : f16Round(v));
    } else if (LINEAR.test(name)) add(name, t.shape, format === 'q4' ? q4(v, t.shape) : f16Round(v));
    else add(name, t.shape, v);
  }
  const files = new Map<string, Uint8Array>([
    ['config.json', new TextEncoder().encode(JSON.stringify(ckpt.config!.raw))],
    ['model.safetensors', encodeSafetensors(tensors, { format: 'pt' })],
  ]);
  return Checkpoint.open(new MapModelFolder(`${ckpt.name}-${format}`, files));
}
