/**
 * Writes one random checkpoint shaped like Qwen2.5-0.5B (tools/random-qwen.ts: streamed, seeded,
 * through a `.partial` folder), for the merges and the decode runs. A folder that is already
 * complete is kept. Fewer layers or a smaller vocabulary make the quick local runs.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { QWEN_SHAPES, type RandomDType, writeRandomQwen } from '../../tools/random-qwen';
import { fail, saveResult } from './common';

export interface GenerateOptions {
  out: string;
  seed: number;
  layers: number;
  vocab: number;
  dtype: string;
  shardGb?: number;
}

const DTYPES: Record<string, RandomDType> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

export async function generateStep(o: GenerateOptions): Promise<void> {
  const dtype = DTYPES[o.dtype] ?? fail(`--dtype must be f32, f16 or bf16 (got '${o.dtype}')`, 2);
  const name = path.basename(o.out);
  if (existsSync(path.join(o.out, 'config.json'))) {
    saveResult(`generate-${name}`, { name, kept: true, bytes: 0, seconds: 0 });
    return;
  }
  const shape = { ...QWEN_SHAPES['0.5b'], layers: o.layers, vocab: o.vocab };
  const t0 = performance.now();
  const bytes = await writeRandomQwen(o.out, {
    shape,
    dtype,
    seed: o.seed,
    ...(o.shardGb ? { maxShardBytes: o.shardGb * 1e9 } : {}),
  });
  saveResult(`generate-${name}`, { name, kept: false, bytes, seconds: (performance.now() - t0) / 1000 });
}
