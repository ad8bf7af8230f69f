/**
 * `merge-lab merge recipe.yml --out DIR`: runs a merge from the terminal. On the CPU the tensors
 * are spread over `--threads N` worker threads (default: the cores available); the output is the
 * same bytes whatever N.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { MergeError } from '../core/errors';
import { merge } from '../core/merge/execute';
import { GpuDeviceLostError } from '../gpu/device';
import { mergekitWarnings, parseRecipe } from '../core/recipe/parse';
import { FsOutputFolder } from '../node/fs-folder';
import { UsageError, parse, parseBytes } from './args';
import { selectBackend } from './backends';
import { defaultThreads, nodeTensorWorkers, threadsAvailable } from '../node/merge-threads';
import { loadAimStats, openRecipeSources } from './load-sources';
import { formatBytes, formatMs } from '../core/units';
import { progressPrinter } from './progress';
import { compileRecipeSens } from './sens-recipe';

export const MERGE_USAGE = `merge-lab merge RECIPE.yml --out DIR [--backend auto|cpu|cpu-reference|webgpu] [--threads N] [--shard-size 1GiB] [--force]`;

export async function mergeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    out: { type: 'string', short: 'o' },
    backend: { type: 'string', default: 'auto' },
    'shard-size': { type: 'string' },
    force: { type: 'boolean', default: false },
    threads: { type: 'string' },
  });
  const threads = values.threads === undefined ? defaultThreads() : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1)
    throw new UsageError(`--threads must be a whole number ≥ 1 (got '${values.threads}')`);
  const recipeFile = positionals[0];
  if (!recipeFile || !values.out) throw new UsageError(`usage: ${MERGE_USAGE}`);
  const outDir = path.resolve(values.out);
  const existing = await fs.readdir(outDir).catch(() => undefined);
  const outDirIsNew = existing === undefined;
  if (existing?.some((f) => f.endsWith('.safetensors') || f === 'config.json') && !values.force)
    throw new UsageError(`${outDir} already holds a model; pass --force to overwrite`);

  const recipeText = await fs.readFile(recipeFile, 'utf8');
  const parsed = parseRecipe(recipeText);
  const { warnings } = parsed;
  const sources = await openRecipeSources(parsed.recipe, path.dirname(path.resolve(recipeFile)));
  const recipe = await compileRecipeSens(parsed.recipe, path.dirname(path.resolve(recipeFile)), sources, (l) =>
    process.stderr.write(`${l}\n`),
  );
  const activationStats = await loadAimStats(recipe, path.dirname(path.resolve(recipeFile)));
  const { backend, kind, notice } = await selectBackend(values.backend!);
  // The fast CPU backend spreads tensors over worker threads; the reference stays the plain single-threaded spec.
  const threaded = kind === 'cpu' && threads > 1;
  const workers = threaded && threadsAvailable() ? nodeTensorWorkers(threads, 'cpu') : undefined;
  process.stderr.write(`${notice}${workers ? `, ${threads} threads` : ''}\n`);
  if (threaded && !workers) process.stderr.write('notice: this build cannot start worker threads; merging on one\n');
  const bar = progressPrinter();
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const summary = await merge(recipe, sources, backend, new FsOutputFolder(outDir), {
      signal: ac.signal,
      onProgress: (p) => bar.update(p),
      ...(activationStats ? { activationStats } : {}),
      ...(workers ? { workers } : {}),
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
  } catch (e) {
    bar.done();
    // The writer has removed its partial files; a folder this command created, now empty, goes too.
    if (outDirIsNew) await fs.rmdir(outDir).catch(() => undefined);
    if (e instanceof MergeError && e.cause instanceof GpuDeviceLostError)
      process.stderr.write(`hint: run the same command again (a new GPU device is requested), or add --backend cpu\n`);
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    await backend.dispose?.();
    await Promise.all([...sources.values()].map((c) => c.close()));
  }
}
