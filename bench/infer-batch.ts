/**
 * `npm run bench:batch`: aggregate decode tokens/s of batched generation (src/infer/batch-generate.ts,
 * continuous batching on the batched graph) on the wasm EP in Node at B = 1, 2, 4, 8, 16, against
 * PyTorch eager with the same batch and greedy loop (bench/infer_torch.py --batch-prompts: f32 on
 * OpenBLAS, the same thread count). Every B runs in its own process on each side (peak RSS from
 * VmHWM). Setup: B distinct prompts of one length, a fixed number of new tokens and no EOS, so all B
 * sequences decode at every step; rates count decode steps only (prefill excluded), wall clock and
 * per CPU-second. Shapes: the demo model (public/models/demo-base) and the random f32
 * Qwen2.5-0.5B-shaped checkpoint (bench/.data/qwen2.5-0.5b-random, made by bench/make_random_qwen.py).
 * The batch-1 graph's decode (bench/infer-ort.ts, generate) on the first prompt is measured beside.
 * Options: --threads N or a list N,M (default 1; the same count on both sides: ORT's wasm numThreads, PyTorch's
 * and OpenBLAS's pools; the table's CPU ÷ wall column shows whether more than one thread worked), --batches 1,2,4,8,16, --shapes demo,0.5b, --prompt-tokens N
 * (default 16), --new-tokens N / --reps N / --warmup-new-tokens N (0.5B; default 24 / 2 / 4),
 * --demo-new-tokens N / --demo-reps N / --demo-warmup-s S (default 64 / 3 / 5; warm-up runs the same length),
 * --prefill together|alone (batchGenerate's prefill; default together, the B prompts in one call: faster
 * here, and the decode steps measured are the same), --no-batch1 (skip the batch-1 graph's run).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { type BatchRow, type BatchRun, runOrtBatch, runTorchBatch } from './infer-batch-peer';
import { printBatchTable, printTargets } from './infer-batch-table';
import type { Measured } from './infer-common';
import { describeBlas, ensureOpenBlas } from './infer-peer';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    batches: { type: 'string', default: '1,2,4,8,16' },
    shapes: { type: 'string', default: 'demo,0.5b' },
    'prompt-tokens': { type: 'string', default: '16' },
    'new-tokens': { type: 'string', default: '24' },
    reps: { type: 'string', default: '2' },
    'warmup-new-tokens': { type: 'string', default: '4' },
    'demo-new-tokens': { type: 'string', default: '64' },
    'demo-reps': { type: 'string', default: '3' },
    'demo-warmup-s': { type: 'string', default: '5' },
    prefill: { type: 'string', default: 'together' },
    'no-batch1': { type: 'boolean', default: false },
  },
});
const threadCounts = values.threads!.split(',').map(Number);
const promptTokens = Number(values['prompt-tokens']);
const prefill = values.prefill as 'alone' | 'together';
const batches = values.batches!.split(',').map(Number);
const ROOT = path.resolve(import.meta.dirname, '..');

interface Shape {
  key: string;
  label: string;
  dir: () => string;
  newTokens: number;
  reps: number;
  warmupNewTokens: number;
  /** Untimed runs for at least this long (at least one). */
  warmupS: number;
}
const SHAPES: Shape[] = [
  {
    key: 'demo',
    label: 'demo-base, 1.8M',
    dir: () => path.join(ROOT, 'public/models/demo-base'),
    newTokens: Number(values['demo-new-tokens']),
    reps: Number(values['demo-reps']),
    warmupNewTokens: Number(values['demo-new-tokens']),
    warmupS: Number(values['demo-warmup-s']),
  },
  {
    key: '0.5b',
    label: 'Qwen2.5-0.5B-shaped f32, 494M',
    dir: () => {
      const dir = path.join(ROOT, 'bench/.data/qwen2.5-0.5b-random');
      if (!existsSync(path.join(dir, 'model.safetensors'))) {
        process.stderr.write('generating the random Qwen2.5-0.5B-shaped checkpoint (2 GB, once)\n');
        execFileSync('/usr/bin/python3', [path.join(ROOT, 'bench/make_random_qwen.py'), dir], { stdio: 'inherit' });
      }
      return dir;
    },
    newTokens: Number(values['new-tokens']),
    reps: Number(values.reps),
    warmupNewTokens: Number(values['warmup-new-tokens']),
    warmupS: 0,
  },
];

/** B distinct prompts of `promptTokens` ids each, inside the vocabulary. */
const prompts = (B: number, vocab: number) =>
  Array.from({ length: B }, (_, b) =>
    Array.from({ length: promptTokens }, (_, i) => (i * 7919 + 13 + b * 104729) % Math.min(vocab, 151000)),
  );

/** The batch-1 graph (generate on CausalLM) on one prompt, as bench:infer measures it. */
function runBatch1(dir: string, prompt: number[], shape: Shape, threads: number): Measured | undefined {
  const args = ['--import', 'tsx', path.join(import.meta.dirname, 'infer-ort.ts'), '--model', dir, '--weights', 'f32'];
  args.push('--prompt-ids', prompt.join(','), '--new-tokens', String(shape.newTokens), '--reps', String(shape.reps));
  args.push('--warmup-s', String(shape.warmupS), '--threads', String(threads));
  try {
    const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    return JSON.parse(out.trim().split('\n').at(-1)!) as Measured;
  } catch (e) {
    process.stderr.write(`  the batch-1 graph on ${dir} did not complete: ${(e as Error).message.split('\n')[0]}\n`);
    return undefined;
  }
}

/** /proc/loadavg's 1 / 5 / 15-minute averages (the machine is shared). */
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

ensureOpenBlas();
const started = performance.now();
const rows: BatchRow[] = [];
const batch1: { shape: string; m: Measured | undefined }[] = [];
const s = (n: number) => `${n} thread${n > 1 ? 's' : ''}`;
const shapes = SHAPES.filter((s) => values.shapes!.split(',').includes(s.key));
for (const shape of shapes) {
  const dir = shape.dir();
  const vocab = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).vocab_size as number;
  for (const threads of threadCounts) {
    for (const B of batches) {
      const { newTokens, reps, warmupNewTokens, warmupS } = shape;
      const run: BatchRun = {
        dir,
        prompts: prompts(B, vocab),
        threads,
        newTokens,
        reps,
        warmupNewTokens,
        warmupS,
        prefill,
      };
      process.stderr.write(`${shape.label}, ${s(threads)}, B=${B}: onnxruntime-web (load average ${loadavg()})\n`);
      const ort = runOrtBatch(run, true);
      process.stderr.write(`${shape.label}, ${s(threads)}, B=${B}: PyTorch\n`);
      const torch = runTorchBatch(run);
      process.stderr.write(
        `  PyTorch decode ${torch.decode_tok_s.toFixed(2)} tok/s (${torch.decode_step_ms.toFixed(0)} ms a step)\n`,
      );
      rows.push({ shape: shape.label, key: shape.key, threads, B, newTokens, reps, ort, torch });
    }
    if (values['no-batch1']) continue;
    process.stderr.write(`${shape.label}, ${s(threads)}: the batch-1 graph\n`);
    batch1.push({ shape: `${shape.label} (${s(threads)})`, m: runBatch1(dir, prompts(1, vocab)[0]!, shape, threads) });
  }
}

const torch = rows[0]?.torch;
const threadsText = threadCounts.map(s).join(', then ');
console.log(
  `\nNode ${process.version}, onnxruntime-web wasm EP and PyTorch ${torch?.torch} eager f32 with the same thread count (${threadsText}), ` +
    `${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${loadavg()} (1 / 5 / 15 min) at the end; the bench took ${((performance.now() - started) / 60000).toFixed(1)} min.`,
);
for (const threads of threadCounts) {
  const peer = rows.find((r) => r.threads === threads)?.torch;
  if (peer) console.log(describeBlas(peer.blas, peer.threads));
}
console.log(
  `B distinct prompts of ${promptTokens} tokens (prefill: ${prefill}), greedy, no EOS, a fixed number of new tokens per sequence (all B decode ` +
    `at every step); decode rates only (prefill excluded); best of the timed runs after untimed warm-up runs; ` +
    shapes
      .map(
        (x) =>
          `${x.label}: ${x.newTokens} new tokens × ${x.reps} runs, warm-up ≥ ${x.warmupS} s of runs of ${x.warmupNewTokens} new tokens (at least one)`,
      )
      .join('; ') +
    '.\n',
);
printBatchTable(rows, batch1);
for (const threads of threadCounts)
  printTargets(
    rows.filter((r) => r.key === '0.5b' && r.threads === threads),
    s(threads),
  );
