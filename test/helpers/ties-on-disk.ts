/**
 * Three tiny bf16 checkpoints on disk (base sharded in two, a and b fine-tuned from it) and a TIES
 * recipe over them, for tests that run `merge-lab merge` as a user would; and an output folder's
 * files read back.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ALL_METHOD_RECIPES } from './backend-identity';
import { type TinyModelOptions, writeTinyModel } from './checkpoints';

export function tiesOnDisk(prefix: string, shape: Partial<TinyModelOptions>): { dir: string; recipe: string } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  writeTinyModel(path.join(dir, 'base'), { seed: 1, dtype: 'BF16', shards: 2, ...shape });
  writeTinyModel(path.join(dir, 'a'), { seed: 2, dtype: 'BF16', like: { seed: 1, scale: 0.05 }, ...shape });
  writeTinyModel(path.join(dir, 'b'), { seed: 3, dtype: 'BF16', like: { seed: 1, scale: 0.08 }, ...shape });
  const recipe = path.join(dir, 'ties.yml');
  writeFileSync(recipe, ALL_METHOD_RECIPES.ties!);
  return { dir, recipe };
}

/** Every file of a merged folder, by name. */
export const folderFiles = (out: string) =>
  new Map(readdirSync(out).map((f) => [f, new Uint8Array(readFileSync(path.join(out, f)))]));
