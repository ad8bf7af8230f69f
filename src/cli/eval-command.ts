/**
 * `merge-lab eval --models DIR1,DIR2,... --set FILE`: every model on every problem, greedy, and a
 * table shaped like the paper's Table 1. `--json`/`--csv` keep every response; an evaluation that
 * fails or is cancelled partway still shows and writes the responses that finished.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type ProblemFormat, type ProblemSet, parseProblemSet } from '../core/eval/problem-set';
import { formatTable, runsToCsv, runsToJson, tableRows } from '../core/eval/report';
import { type CompletionModel, type EvalRun, type PromptStyle, evaluate, finishedBefore } from '../core/eval/run';
import { formatMs } from '../core/units';
import { completionModel } from '../infer/completion';
import { BatchChatModel } from '../infer/batch-chat';
import { Checkpoint } from '../core/formats/checkpoint';
import { ChatModel } from '../infer/engine';
import { type PlanLoadOptions, fittingBatch } from '../infer/load-plan';
import { specOf } from '../infer/model';
import { nodeRuntimeAdapter } from '../node/ort-adapter';
import type { EpChoice } from '../infer/runtime';
import { FsModelFolder } from '../node/fs-folder';
import {
  UsageError,
  WEIGHT_USAGE,
  type WeightChoice,
  type WeightFlagValues,
  parse,
  weightFlags,
  weightOptions,
} from './args';
import { WEIGHTS_CACHE_USAGE, cachedWeightsOption, weightsCacheFlag } from './weights-cache-flag';

/** Most sequences `--batch auto` generates together (bench:batch: B = 16 gives 3.9× B = 1 on the 0.5B shape, 3.3× at
 *  8; the 360-problem demo eval takes the fewest CPU-seconds at 32, then 16, then 8). */
export const DEFAULT_BATCH = 32;

export const EVAL_USAGE = `merge-lab eval --models DIR1,DIR2,... --set FILE[,FILE2] [--limit N] [--reference DIR] [--max-new-tokens N] [--few-shot NAME=K] [--prompt TEMPLATE] [--format auto|gsm8k|math|generic] [--json FILE] [--csv FILE] [--ep auto|wasm|webgpu] [--batch N|auto] [--threads N] ${WEIGHT_USAGE} ${WEIGHTS_CACHE_USAGE}`;

export const evalFlags = {
  set: { type: 'string' },
  limit: { type: 'string' },
  reference: { type: 'string' },
  'max-new-tokens': { type: 'string', default: '512' },
  'few-shot': { type: 'string', multiple: true },
  prompt: { type: 'string', default: '{question}' },
  format: { type: 'string', default: 'auto' },
  json: { type: 'string' },
  csv: { type: 'string' },
  ep: { type: 'string', default: 'wasm' },
  'bad-lines': { type: 'string', default: 'skip' },
  batch: { type: 'string', default: 'auto' },
  threads: { type: 'string' },
  ...weightFlags,
  ...weightsCacheFlag,
} as const;

export interface EvalSettings {
  sets: ProblemSet[];
  limit: number | undefined;
  maxNewTokens: number;
  prompt: string;
  fewShot: Map<string, number>;
  ep: EpChoice;
  weights: WeightChoice;
  /** --batch: sequences generated together (continuous batching); 1 answers one problem at a time;
   *  auto (default): the largest batch up to DEFAULT_BATCH that the memory plan fits, printed. */
  batch: number | 'auto';
  /** --threads: the wasm EP's threads (default: onnxruntime-web's choice, min(4, ⌈cores / 2⌉)). */
  threads?: number | undefined;
  /** --weights-cache: where derived f16 / q4 weights are kept between runs. */
  weightsCache?: string | undefined;
}

export function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer (got '${v}')`);
  return n;
}

export async function evalSettings(values: Record<string, unknown>): Promise<EvalSettings> {
  if (typeof values.set !== 'string') throw new UsageError('--set FILE is required');
  const format = values.format as string;
  if (!['auto', 'gsm8k', 'math', 'generic'].includes(format))
    throw new UsageError(`--format must be auto, gsm8k, math or generic`);
  const onBadLine = values['bad-lines'] === 'reject' ? 'reject' : 'skip';
  const sets = await Promise.all(
    values.set.split(',').map(async (f) => {
      const s = parseProblemSet(await fs.readFile(f, 'utf8'), path.basename(f), {
        format: format as ProblemFormat | 'auto',
        onBadLine,
      });
      for (const b of s.badLines) process.stderr.write(`${s.name}: line ${b.line} skipped: ${b.reason}\n`);
      return s;
    }),
  );
  const fewShot = new Map<string, number>();
  for (const spec of (values['few-shot'] as string[] | undefined) ?? []) {
    const m = /^(.+)=(\d+)$/.exec(spec);
    if (!m) throw new UsageError(`--few-shot takes NAME=K (got '${spec}')`);
    fewShot.set(m[1]!, Number(m[2]));
  }
  const ep = values.ep as EpChoice;
  if (!['auto', 'wasm', 'webgpu'].includes(ep)) throw new UsageError('--ep must be auto, wasm or webgpu');
  return {
    sets,
    limit: positiveInt(values.limit as string | undefined, '--limit'),
    maxNewTokens: positiveInt(values['max-new-tokens'] as string, '--max-new-tokens')!,
    prompt: values.prompt as string,
    fewShot,
    ep,
    weights: weightOptions(values as WeightFlagValues),
    batch: values.batch === 'auto' ? 'auto' : positiveInt(values.batch as string, '--batch')!,
    threads: positiveInt(values.threads as string | undefined, '--threads'),
    weightsCache: values['weights-cache'] as string | undefined,
  };
}

/** Loads models, runs them on every set with a one-line progress display, and releases them. */
export async function runEvaluation(
  dirs: readonly string[],
  s: EvalSettings,
  signal?: AbortSignal,
  /** Each set's run is added here as it completes (so a caller keeps them when a later set fails). */
  runs: EvalRun[] = [],
): Promise<EvalRun[]> {
  const loaded: {
    chat: { release(): Promise<void> };
    batch: number;
    model: CompletionModel;
    prompt: PromptStyle;
  }[] = [];
  const folders: FsModelFolder[] = [];
  try {
    for (const dir of dirs) {
      const folder = new FsModelFolder(dir);
      folders.push(folder);
      const base = {
        ep: s.ep,
        ...s.weights,
        ...(await cachedWeightsOption(dir, s.weightsCache, s.weights, signal)),
        adapter: nodeRuntimeAdapter(s.threads ? { threads: s.threads } : {}),
        ...(signal ? { signal } : {}),
      };
      const name = path.basename(path.resolve(dir));
      const batch = s.batch === 'auto' ? await planBatch(folder, base, name) : s.batch;
      const opts = { ...base, ...(batch > 1 && { batchSize: batch }) }; // the plan refuses a batch that does not fit
      // --batch N > 1: the batched graph's session only (./infer/batch-chat.ts), not a batch-1 one beside it.
      const chat = batch > 1 ? await BatchChatModel.load(folder, opts) : await ChatModel.load(folder, opts);
      loaded.push({
        chat,
        batch,
        model: chat instanceof BatchChatModel ? chat.completionModel(name, batch) : completionModel(chat, name),
        prompt: { template: s.prompt, fewShot: s.fewShot.get(name) ?? 0 },
      });
    }
    for (const set of s.sets) {
      const run = await evaluate(
        loaded.map((l) => ({ model: l.model, prompt: l.prompt })),
        set,
        {
          maxNewTokens: s.maxNewTokens,
          batched: loaded.some((l) => l.batch > 1),
          ...(s.limit !== undefined ? { limit: s.limit } : {}),
          ...(signal ? { signal } : {}),
          onProgress: (p) =>
            process.stderr.isTTY && process.stderr.write(`\r${set.name}: ${p.done}/${p.total} ${p.model}\x1b[K`),
        },
      );
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      const rates = run.models.filter((m) => m.tokPerS !== undefined).map((m) => `${m.name} ${m.tokPerS!.toFixed(0)}`);
      const batches = [...new Set(loaded.map((l) => l.batch))].join('/');
      const batch = rates.length ? ` (batch ${batches}, tok/s: ${rates.join(', ')})` : '';
      process.stderr.write(
        `${set.name}: ${run.set.problems} problems × ${loaded.length} models in ${formatMs(run.ms)}${batch}\n`,
      );
      runs.push(run);
    }
    return runs;
  } finally {
    for (const l of loaded) await l.chat.release();
    for (const f of folders) await f.close();
  }
}

export async function writeOutputs(runs: EvalRun[], values: Record<string, unknown>): Promise<void> {
  if (typeof values.json === 'string') await fs.writeFile(values.json, runsToJson(runs));
  if (typeof values.csv === 'string') await fs.writeFile(values.csv, runsToCsv(runs));
}

export async function evalCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, { models: { type: 'string' }, ...evalFlags });
  if (!values.models) throw new UsageError(`usage: ${EVAL_USAGE}`);
  const dirs = values.models.split(',').filter(Boolean);
  const settings = await evalSettings(values);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const reference = values.reference ? path.basename(path.resolve(values.reference)) : undefined;
  const runs: EvalRun[] = [];
  try {
    await runEvaluation(dirs, settings, ac.signal, runs);
  } catch (e) {
    await keepFinished(runs, finishedBefore(e), values, reference);
    throw e;
  }
  console.log(formatTable(tableRows(runs, reference)));
  await writeOutputs(runs, values);
}

/**
 * An evaluation that failed or was cancelled: the sets it completed and the finished responses of
 * the one it stopped in are shown and written to --json / --csv (the unfinished run says why and
 * how far it got), before the error is reported.
 */
async function keepFinished(
  complete: readonly EvalRun[],
  partial: EvalRun | undefined,
  values: Record<string, unknown>,
  reference: string | undefined,
): Promise<void> {
  const kept = [...complete, ...(partial?.models.length ? [partial] : [])];
  if (kept.length === 0) return;
  if (complete.length) console.log(formatTable(tableRows(complete, reference)));
  if (partial?.models.length) {
    const { responses, of } = partial.unfinished!;
    console.log(`${partial.set.name}, unfinished (${responses} of ${of} responses):`);
    console.log(formatTable(tableRows([partial], reference)));
  }
  await writeOutputs(kept, values);
  const files = [values.json, values.csv].filter((f): f is string => typeof f === 'string');
  const finished = kept.reduce((n, r) => n + r.models.reduce((m, x) => m + x.responses.length, 0), 0);
  process.stderr.write(
    `merge-lab eval: stopped early; ${finished} finished responses kept${files.length ? ` in ${files.join(', ')}` : ''}\n`,
  );
}

/** The default batch: the largest up to DEFAULT_BATCH that the memory plan fits (at least 1), said on stderr. */
async function planBatch(folder: FsModelFolder, opts: PlanLoadOptions, name: string): Promise<number> {
  const spec = specOf(await Checkpoint.open(folder, { requireConfig: true }));
  const batch = Math.max(1, await fittingBatch(spec, opts, DEFAULT_BATCH));
  process.stderr.write(
    `${name}: batch ${batch} (the memory plan's largest up to ${DEFAULT_BATCH}; --batch N to choose)\n`,
  );
  return batch;
}
