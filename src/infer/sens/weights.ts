/**
 * The weights of one model for the sensitivity pass, read from the checkpoint on demand (f32, f16
 * or bf16, decoded exactly into f32) and dropped after use, so that the pass holds one block's
 * weights and one chunk of the head at a time, never the whole model.
 */
import { decodeToF32 } from '../../core/dtype';
import type { Checkpoint } from '../../core/formats/checkpoint';
import { numel } from '../../core/formats/safetensors';
import { type ModelSpec, modelSpec } from '../architecture';
import { InferError } from '../errors';

export class SensWeights {
  readonly spec: ModelSpec;

  constructor(readonly ckpt: Checkpoint) {
    if (!ckpt.config)
      throw new InferError('missing-file', `${ckpt.name}: no config.json`, { file: `${ckpt.name}/config.json` });
    this.spec = modelSpec(ckpt.config, ckpt.tensor('model.layers.0.self_attn.q_proj.bias') !== undefined);
  }

  get name(): string {
    return this.ckpt.name;
  }

  /** The head's weight: the embedding when tied. */
  get headName(): string {
    return this.spec.tied ? 'model.embed_tokens.weight' : 'lm_head.weight';
  }

  /** Checks that a tensor exists with the expected shape; returns its info. */
  info(name: string, shape: readonly number[]) {
    const t = this.ckpt.tensor(name);
    if (!t) throw new InferError('missing-weight', `${this.name}: no tensor '${name}'`, { tensor: name });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new InferError(
        'weight-shape',
        `${this.name}: '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
        { file: t.file.name, tensor: name },
      );
    return t;
  }

  /** A whole tensor, decoded. */
  async tensor(name: string, shape: readonly number[]): Promise<Float32Array> {
    const t = this.info(name, shape);
    return decodeToF32(await t.file.readRange(name), t.dtype);
  }

  /** Rows [from, to) of a 2-D tensor, decoded. */
  async rows(name: string, shape: readonly [number, number], from: number, to: number): Promise<Float32Array> {
    const t = this.info(name, shape);
    return decodeToF32(await t.file.readRange(name, from * shape[1], (to - from) * shape[1]), t.dtype);
  }

  /** Every tensor name the pass differentiates, in checkpoint order, with its element count. */
  parameterNames(): { name: string; size: number }[] {
    const out: { name: string; size: number }[] = [];
    for (const t of this.ckpt.tensors.values())
      if (t.name !== 'lm_head.weight' || !this.spec.tied) out.push({ name: t.name, size: numel(t.shape) });
    return out;
  }
}
