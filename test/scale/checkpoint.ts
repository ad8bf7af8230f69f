/**
 * The scale checks' checkpoint: a random-weight bf16 model shaped like Qwen2.5-1.5B (3.1 GB),
 * written once by tools/random-qwen.ts into .scale/ (ignored by git) and reused while its config matches.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { QWEN_SHAPES, writeRandomQwen } from '../../tools/random-qwen';

export const SCALE_DIR = path.resolve('.scale');
export const QWEN_15B_DIR = path.join(SCALE_DIR, 'qwen2.5-1.5b-random');

export async function qwen15bCheckpoint(): Promise<string> {
  const config = path.join(QWEN_15B_DIR, 'config.json');
  const ready =
    existsSync(path.join(QWEN_15B_DIR, 'model.safetensors')) &&
    existsSync(config) &&
    (JSON.parse(readFileSync(config, 'utf8')) as { num_hidden_layers?: number }).num_hidden_layers === 28;
  if (!ready) await writeRandomQwen(QWEN_15B_DIR, { shape: QWEN_SHAPES['1.5b'], dtype: 'BF16', seed: 1 });
  return QWEN_15B_DIR;
}

/** Bytes as GB (10⁹) and GiB, for reports. */
export const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB (${(bytes / 2 ** 30).toFixed(2)} GiB)`;
