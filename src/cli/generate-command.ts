/**
 * `merge-lab generate --model DIR --prompt TEXT`: runs a checkpoint through the same engine as
 * the page (onnxruntime-web; wasm, or WebGPU through Dawn). The answer streams to stdout; the
 * memory plan, the EP, warnings (each once) and the timings go to stderr. A model that does not
 * fit is refused with the plan's advice before its weights are read (unless --force-load).
 */
import type { LabWarning } from '../core/errors';
import { ChatModel } from '../infer/engine';
import { nodeRuntimeAdapter } from '../node/ort-adapter';
import type { EpChoice } from '../infer/runtime';
import { FsModelFolder } from '../node/fs-folder';
import { UsageError, WEIGHT_USAGE, parse, weightFlags, weightOptions } from './args';
import { tensorProgress } from './progress';
import { WEIGHTS_CACHE_USAGE, cachedWeightsOption, weightsCacheFlag } from './weights-cache-flag';

export const GENERATE_USAGE = `merge-lab generate --model DIR --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--stop STR]... [--ep auto|wasm|webgpu] [--threads N] [--no-chat] ${WEIGHT_USAGE} ${WEIGHTS_CACHE_USAGE}`;

function number(v: string | undefined, flag: string, check: (n: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`${flag} must be ${what} (got '${v}')`);
  return n;
}

export async function generateCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    model: { type: 'string', short: 'm' },
    prompt: { type: 'string', short: 'p' },
    'max-new-tokens': { type: 'string', default: '256' },
    temperature: { type: 'string', default: '0' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string', default: '0' },
    stop: { type: 'string', multiple: true },
    ep: { type: 'string', default: 'auto' },
    threads: { type: 'string' },
    'no-chat': { type: 'boolean', default: false },
    ...weightFlags,
    ...weightsCacheFlag,
  });
  if (!values.model || values.prompt === undefined) throw new UsageError(`usage: ${GENERATE_USAGE}`);
  const ep = values.ep as EpChoice;
  if (!['auto', 'wasm', 'webgpu'].includes(ep))
    throw new UsageError(`--ep must be auto, wasm or webgpu (got '${values.ep}')`);
  const int = (n: number) => Number.isInteger(n);
  const maxNewTokens = number(
    values['max-new-tokens'],
    '--max-new-tokens',
    (n) => int(n) && n > 0,
    'a positive integer',
  )!;
  const temperature = number(values.temperature, '--temperature', (n) => n >= 0, 'a number ≥ 0')!;
  const topK = number(values['top-k'], '--top-k', (n) => int(n) && n >= 0, 'an integer ≥ 0');
  const topP = number(values['top-p'], '--top-p', (n) => n > 0 && n <= 1, 'in (0, 1]');
  const seed = number(values.seed, '--seed', int, 'an integer')!;
  const threads = number(values.threads, '--threads', (n) => int(n) && n > 0, 'a positive integer');
  const weights = weightOptions(values);

  const folder = new FsModelFolder(values.model);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const warned = new Set<string>();
  const onWarning = (w: LabWarning) => {
    if (warned.has(w.code)) return;
    warned.add(w.code);
    process.stderr.write(`warning: ${w.message}\n`);
  };
  const chat = !values['no-chat'];
  const t0 = performance.now();
  try {
    const cache = await cachedWeightsOption(values.model, values['weights-cache'], weights, ac.signal);
    const model = await ChatModel.load(folder, {
      ep,
      ...weights,
      ...cache,
      adapter: nodeRuntimeAdapter(threads ? { threads } : {}),
      signal: ac.signal,
      plannedPrompt: { prompt: values.prompt, chat, maxNewTokens },
      onPlan: (_plan, summary) => process.stderr.write(`${summary}\n`),
      onWarning,
      onTensor: tensorProgress(`weights: making ${weights.weights ?? 'f32'}`),
    });
    const e = model.ep;
    const graph = model.lm.graph;
    process.stderr.write(
      `ep: ${e.ep}${e.adapter ? ` (${e.adapter})` : ''}: ${e.reason}; weights ${model.lm.graph.weights}; loaded in ${((performance.now() - t0) / 1000).toFixed(2)} s; ${graph.compute} compute, ${graph.kvCache} KV cache\n`,
    );
    const r = await model.ask(values.prompt, {
      chat,
      maxNewTokens,
      onWarning,
      temperature,
      seed,
      ...(topK !== undefined ? { topK } : {}),
      ...(topP !== undefined ? { topP } : {}),
      ...(values.stop ? { stopStrings: values.stop } : {}),
      onToken: (t) => process.stdout.write(t.text),
      signal: ac.signal,
    });
    process.stdout.write('\n');
    const t = r.timings;
    process.stderr.write(
      `finish: ${r.finishReason}; prompt ${t.promptTokens} tokens, prefill ${t.prefillTokPerS.toFixed(1)} tok/s (${t.prefillMs.toFixed(0)} ms); ` +
        `time to first token ${t.timeToFirstTokenMs.toFixed(0)} ms; ${t.newTokens} new tokens, decode ${t.decodeTokPerS.toFixed(1)} tok/s\n`,
    );
    await model.release();
  } finally {
    process.off('SIGINT', onSigint);
    await folder.close();
  }
}
