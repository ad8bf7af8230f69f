/** Tiny checkpoints for the inference tests, built on test/helpers/checkpoints.ts. */
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { type TinyModelOptions, tinyModelFiles } from '../helpers/checkpoints';

/** A Qwen2-shaped tiny model: 2 heads / 1 KV head (GQA), q/k/v biases, head_dim 8. */
export const TINY: TinyModelOptions = { seed: 11, hidden: 16, intermediate: 24, vocab: 40, layers: 2 };

/** The files of a tiny model with config.json fields replaced (null deletes a field). */
export function tinyFiles(o: TinyModelOptions, config: Record<string, unknown> = {}): Map<string, Uint8Array> {
  const files = tinyModelFiles(o);
  const cfg = JSON.parse(new TextDecoder().decode(files.get('config.json')!)) as Record<string, unknown>;
  for (const [k, v] of Object.entries(config)) {
    if (v === null) delete cfg[k];
    else cfg[k] = v;
  }
  files.set('config.json', new TextEncoder().encode(JSON.stringify(cfg)));
  return files;
}

export async function tinyCkpt(o: TinyModelOptions = TINY, config: Record<string, unknown> = {}): Promise<Checkpoint> {
  return Checkpoint.open(new MapModelFolder(`tiny-${o.seed}`, tinyFiles(o, config)));
}

/** Row `r` of a [rows, V] logits matrix. */
export const row = (logits: Float32Array, r: number, V: number) => logits.subarray(r * V, (r + 1) * V);
