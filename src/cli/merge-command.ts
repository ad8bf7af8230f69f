/** `merge-lab merge recipe.yml --out DIR`: runs a merge from the terminal. */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { merge } from '../core/merge/execute';
import { mergekitWarnings, parseRecipe } from '../core/recipe/parse';
import { FsOutputFolder } from '../node/fs-folder';
import { UsageError, parse, parseBytes } from './args';
import { selectBackend } from './backends';
import { loadAimStats, openRecipeSources } from './load-sources';
import { formatBytes, formatMs } from '../core/units';
import { progressPrinter } from './progress';

export const MERGE_USAGE = `merge-lab merge RECIPE.yml --out DIR [--backend auto|cpu|webgpu] [--shard-size 1GiB] [--force]`;

export async function mergeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    out: { type: 'string', short: 'o' },
    backend: { type: 'string', default: 'auto' },
    'shard-size': { type: 'string' },
    force: { type: 'boolean', default: false },
  });
  const recipeFile = positionals[0];
  if (!recipeFile || !values.out) throw new UsageError(`usage: ${MERGE_USAGE}`);
  const outDir = path.resolve(values.out);
  const existing = await fs.readdir(outDir).catch(() => []);
  if (existing.some((f) => f.endsWith('.safetensors') || f === 'config.json') && !values.force)
    throw new UsageError(`${outDir} already holds a model; pass --force to overwrite`);

  const { recipe, warnings } = parseRecipe(await fs.readFile(recipeFile, 'utf8'));
  const sources = await openRecipeSources(recipe, path.dirname(path.resolve(recipeFile)));
  const activationStats = await loadAimStats(recipe, path.dirname(path.resolve(recipeFile)));
  const { backend, notice } = await selectBackend(values.backend!);
  process.stderr.write(`${notice}\n`);
  const bar = progressPrinter();
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const summary = await merge(recipe, sources, backend, new FsOutputFolder(outDir), {
      signal: ac.signal,
      onProgress: (p) => bar.update(p),
      ...(activationStats ? { activationStats } : {}),
      ...(values['shard-size'] ? { shardBytes: parseBytes(values['shard-size'], '--shard-size') } : {}),
    });
    bar.done();
    const rate = summary.ms > 0 ? ((summary.bytesRead + summary.bytesWritten) / summary.ms) * 1000 : 0;
    console.log(
      `merged ${summary.tensors} tensors with ${summary.method} on ${summary.backend}: read ${formatBytes(summary.bytesRead)}, wrote ${formatBytes(summary.bytesWritten)} in ${formatMs(summary.ms)} (${formatBytes(rate)}/s)`,
    );
    console.log(`output: ${outDir} (${summary.files.join(', ')})`);
    for (const w of [...warnings, ...summary.warnings, ...mergekitWarnings(recipe)])
      console.log(`warning: ${w.message}`);
  } finally {
    process.off('SIGINT', onSigint);
    await backend.dispose?.();
    await Promise.all([...sources.values()].map((c) => c.close()));
  }
}
