/**
 * One batched onnxruntime-web measurement for bench/infer-batch.ts, in its own process so that its
 * peak RSS is its own: loads a checkpoint's batched session (BatchLM) on the wasm EP, runs
 * batchGenerate on B prompts of one length with a fixed number of new tokens and no EOS (so all B
 * sequences decode at every step), untimed warm-up runs first, then `reps` timed runs; prints one
 * JSON object (`BatchMeasured`) with the best decode rate, wall clock and per CPU-second.
 *   node --import tsx bench/infer-batch-ort.ts --model DIR --prompts 1,2;3,4 --new-tokens N --reps N
 *     --warmup-s S [--warmup-new-tokens N] --threads N [--prefill alone|together] [--probe]
 * --probe: afterwards, the least of 3 B-row steps of one token each on an empty cache (P = 0): the
 * same B rows through every matrix product, lm_head included, as a decode step, with attention over
 * one position and no past to copy in (where a decode step's time goes).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Checkpoint } from '../src/core/formats/checkpoint';
import { type BatchTimings, batchGenerate } from '../src/infer/batch-generate';
import { BatchLM } from '../src/infer/batch-model';
import { nodeRuntimeAdapter } from '../src/node/ort-adapter';
import { FsModelFolder } from '../src/node/fs-folder';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    prompts: { type: 'string' },
    'new-tokens': { type: 'string', default: '16' },
    reps: { type: 'string', default: '1' },
    'warmup-s': { type: 'string', default: '0' },
    'warmup-new-tokens': { type: 'string' },
    probe: { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
    prefill: { type: 'string', default: 'alone' },
  },
});

/** What this process prints: the best decode rates of the timed runs and the last run's details. */
export interface BatchMeasured {
  batch: number;
  prompt_tokens: number;
  new_tokens: number;
  reps: number;
  decode_tok_s: number;
  decode_tok_cpu_s: number;
  decode_step_ms: number;
  /** The last timed run's timings (batchGenerate's). */
  timings: BatchTimings;
  ids: number[][];
  max_rss_bytes: number;
  end_rss_bytes: number;
  load_s: number;
  /** --probe: ms of one B-row step on an empty cache (see above). */
  probe_ms?: number;
}

/** This process's own peak RSS (VmHWM; see bench/infer-ort.ts). */
function rssBytes(field: 'VmHWM' | 'VmRSS'): number {
  const kib = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kib) * 1024;
}
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const prompts = values.prompts!.split(';').map((row) => row.split(',').map(Number));
const B = prompts.length;
const newTokens = Number(values['new-tokens']);
const prefill = values.prefill as 'alone' | 'together';
const dir = values.model!;
const log = (s: string) => process.stderr.write(`  ${path.basename(dir)} B=${B}: ${s}\n`);

const folder = new FsModelFolder(dir);
const t0 = performance.now();
const lm = await BatchLM.fromCheckpoint(await Checkpoint.open(folder), {
  ep: 'wasm',
  adapter: nodeRuntimeAdapter({ threads: Number(values.threads) }),
  weights: 'f32',
});
const loadS = (performance.now() - t0) / 1000;
log(`batched session on ${lm.ep.ep} in ${loadS.toFixed(1)} s; ${lm.plan.summary}`);

/** One run; its decode CPU time starts when the last prompt's first token is known (prefills done). */
async function run(maxNewTokens = newTokens) {
  let firstTokens = 0;
  let c1 = 0;
  const onToken = () => {
    if (++firstTokens === B) c1 = cpu();
  };
  const r = await batchGenerate(lm, prompts, { maxNewTokens, batchSize: B, prefill, onToken });
  const c2 = cpu();
  const decodeTokens = r.results.reduce((n, x) => n + x.ids.length - 1, 0);
  return { r, decodeCpuS: c2 - c1, decodeTokens };
}

// Warm-up (V8 tiers ORT's wasm up while it runs): at least one full run, more until warmup-s.
const w0 = performance.now();
const warmupNew = Number(values['warmup-new-tokens'] ?? newTokens);
do await run(warmupNew);
while (performance.now() - w0 < Number(values['warmup-s']) * 1000);
let best = { tok: 0, cpuTok: 0, stepMs: Infinity };
let last: Awaited<ReturnType<typeof run>> | undefined;
const reps = Number(values.reps);
for (let i = 0; i < reps; i++) {
  last = await run();
  const t = last.r.timings;
  if (t.decodeSteps !== newTokens - 1) throw new Error(`${t.decodeSteps} decode steps, not ${newTokens - 1}`);
  best = {
    tok: Math.max(best.tok, t.decodeTokPerS),
    cpuTok: Math.max(best.cpuTok, last.decodeTokens / last.decodeCpuS),
    stepMs: Math.min(best.stepMs, t.decodeMs / t.decodeSteps),
  };
  log(
    `run ${i + 1}/${reps}: decode ${t.decodeTokPerS.toFixed(2)} tok/s (${(t.decodeMs / t.decodeSteps).toFixed(0)} ms a step), ` +
      `prefill ${t.prefillMs.toFixed(0)} ms, regroup ${t.regroupMs.toFixed(1)} ms`,
  );
}
let probeMs: number | undefined;
if (values.probe) {
  probeMs = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await lm.forward(
      prompts.map((p) => [p[0]!]),
      lm.emptyCache(B),
    );
    probeMs = Math.min(probeMs, performance.now() - t);
  }
  log(`probe: a ${B}-row step on an empty cache in ${probeMs.toFixed(0)} ms`);
}
const out: BatchMeasured = {
  batch: B,
  prompt_tokens: prompts[0]!.length,
  new_tokens: newTokens,
  reps,
  decode_tok_s: best.tok,
  decode_tok_cpu_s: best.cpuTok,
  decode_step_ms: best.stepMs,
  timings: last!.r.timings,
  ids: last!.r.results.map((x) => x.ids),
  max_rss_bytes: rssBytes('VmHWM'),
  end_rss_bytes: rssBytes('VmRSS'),
  load_s: loadS,
  probe_ms: probeMs,
};
await lm.release();
await folder.close();
console.log(JSON.stringify(out));
