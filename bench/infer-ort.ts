/**
 * One onnxruntime-web measurement for bench/infer.ts, in its own process so that its peak RSS is
 * its own: loads a checkpoint on the wasm EP in one weight format, runs untimed greedy generations
 * for the warm-up time, then `reps` timed ones, and prints one JSON object (`Measured`).
 *   node --import tsx bench/infer-ort.ts --model DIR --weights f32|f16|q4 [--block-size 32]
 *     --prompt-ids 1,2,3 --new-tokens N --reps N --warmup-s S --threads N
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Checkpoint } from '../src/core/formats/checkpoint';
import { generate } from '../src/infer/generate';
import { CausalLM } from '../src/infer/model';
import { nodeRuntimeAdapter } from '../src/node/ort-adapter';
import { FsModelFolder } from '../src/node/fs-folder';
import { bestOf, type Measured, type Rates, type WeightFormat } from './infer-common';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    weights: { type: 'string', default: 'f32' },
    'block-size': { type: 'string', default: '32' },
    'prompt-ids': { type: 'string' },
    'new-tokens': { type: 'string', default: '32' },
    reps: { type: 'string', default: '3' },
    'warmup-s': { type: 'string', default: '10' },
    threads: { type: 'string', default: '1' },
  },
});
/**
 * This process's own peak RSS: /proc's VmHWM belongs to the address space, which execve replaces;
 * getrusage's maxrss would carry the parent's peak across the exec (Linux keeps it).
 */
function rssBytes(field: 'VmHWM' | 'VmRSS'): number {
  const kib = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kib) * 1024;
}

const prompt = values['prompt-ids']!.split(',').map(Number);
const newTokens = Number(values['new-tokens']);
const warmupS = Number(values['warmup-s']);
const weights = values.weights as WeightFormat;
const dir = values.model!;
const log = (s: string) => process.stderr.write(`  ${path.basename(dir)} ${weights}: ${s}\n`);

const folder = new FsModelFolder(dir);
const ckpt = await Checkpoint.open(folder);
const t0 = performance.now();
const lm = await CausalLM.fromCheckpoint(ckpt, {
  ep: 'wasm',
  adapter: nodeRuntimeAdapter({ threads: Number(values.threads) }),
  weights,
  blockSize: Number(values['block-size']) as 32 | 64 | 128,
});
const loadS = (performance.now() - t0) / 1000;
log(`session on ${lm.ep.ep} in ${loadS.toFixed(1)} s; ${lm.plan.summary}`);
// Warm-up: at least one full untimed run, more until warmup-s seconds have passed. V8 first runs
// ORT's wasm with its baseline compiler and tiers hot functions up while they run.
const w0 = performance.now();
do await generate(lm, prompt, { maxNewTokens: newTokens });
while (performance.now() - w0 < warmupS * 1000);
// CPU seconds as well as wall time: on a shared machine, wall time measures the neighbours.
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
let best: Rates | undefined;
let ids: number[] = [];
const reps = Number(values.reps);
for (let i = 0; i < reps; i++) {
  const c0 = cpu();
  let c1 = 0;
  const r = await generate(lm, prompt, { maxNewTokens: newTokens, onToken: () => void (c1 ||= cpu()) });
  const c2 = cpu();
  const t = r.timings;
  best = bestOf(best, {
    prefill_tok_s: t.prefillTokPerS,
    decode_tok_s: t.decodeTokPerS,
    ttft_ms: t.timeToFirstTokenMs,
    prefill_tok_cpu_s: prompt.length / (c1 - c0),
    decode_tok_cpu_s: (r.ids.length - 1) / (c2 - c1),
  });
  ids = r.ids;
  log(`run ${i + 1}/${reps}: prefill ${t.prefillTokPerS.toFixed(1)} tok/s, decode ${t.decodeTokPerS.toFixed(2)} tok/s`);
}
const out: Measured = {
  rates: best!,
  ids,
  reps,
  new_tokens: ids.length,
  max_rss_bytes: rssBytes('VmHWM'),
  end_rss_bytes: rssBytes('VmRSS'),
  load_s: loadS,
};
await lm.release();
await folder.close();
console.log(JSON.stringify(out));
