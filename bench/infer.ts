/**
 * `npm run bench:infer`: prefill and decode tokens/s of the onnxruntime-web engine in Node on the
 * wasm EP, per weight format, against PyTorch eager on the CPU (bench/infer_torch.py: Debian's
 * python3-torch on OpenBLAS, see ./infer-peer.ts; f32 compute, the same greedy loop with a KV
 * cache), with each measurement's peak RSS (every one runs in its own process) and, beside each
 * decode figure, the bound that this machine's memcpy bandwidth puts on it. Rows:
 *   - demo:  the demo model (public/models/demo-base), f32;
 *   - 0.5b:  a random f32 checkpoint shaped like Qwen2.5-0.5B (bench/make_random_qwen.py), f32, f16, q4;
 *   - 1.5b:  a random bf16 checkpoint shaped like Qwen2.5-1.5B (tools/random-qwen.ts; 3.1 GB), q4
 *            (f32 does not fit in wasm's 4 GB heap; PyTorch reads the bf16 weights as f32).
 * Options: --threads N (both engines; default 1), --new-tokens N, --prompt-tokens N, --reps N (best
 * of N runs), --warmup-s S (untimed runs first; at least one), --shapes demo,0.5b,1.5b, --weights
 * f32,f16,q4 (every listed format on every listed shape; default: the rows above), --block-size N
 * (q4), --slow-new-tokens N / --slow-reps N (the 1.5B rows, both engines; default 8 and 1),
 * --only demo|qwen05b|qwen15b (one shape), --torch-bf16 (also PyTorch in bf16: slow, see README).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { QWEN_SHAPES, writeRandomQwen } from '../tools/random-qwen';
import { type Measured, type WeightFormat, decodeMatrixElements, memcpyGBs } from './infer-common';
import { type TorchMeasured, describeBlas, ensureOpenBlas, runTorch } from './infer-peer';
import { type BenchRow, printTable } from './infer-table';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    'new-tokens': { type: 'string', default: '32' },
    'prompt-tokens': { type: 'string', default: '64' },
    only: { type: 'string' },
    shapes: { type: 'string', default: 'demo,0.5b,1.5b' },
    weights: { type: 'string' },
    'block-size': { type: 'string', default: '32' },
    reps: { type: 'string', default: '3' },
    'warmup-s': { type: 'string', default: '10' },
    'slow-new-tokens': { type: 'string', default: '8' },
    'slow-reps': { type: 'string', default: '1' },
    'torch-bf16': { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const promptTokens = Number(values['prompt-tokens']);
const warmupS = Number(values['warmup-s']);
const blockSize = Number(values['block-size']);
const ROOT = path.resolve(import.meta.dirname, '..');
const DATA = path.join(ROOT, 'bench/.data');
const ONLY: Record<string, string> = { demo: 'demo', qwen05b: '0.5b', qwen15b: '1.5b' };

interface Shape {
  key: string;
  label: string;
  defaultWeights: WeightFormat[];
  slow: boolean;
  /** The checkpoint folder, made when missing. */
  dir: () => Promise<string>;
  prompt: () => number[];
}

const randomPrompt = () => Array.from({ length: promptTokens }, (_, i) => (i * 7919 + 13) % 151000);
const SHAPES: Shape[] = [
  {
    key: 'demo',
    label: 'demo-base',
    defaultWeights: ['f32'],
    slow: false,
    dir: async () => path.join(ROOT, 'public/models/demo-base'),
    prompt: () =>
      JSON.parse(readFileSync(path.join(ROOT, 'test/golden/demo-base.golden.json'), 'utf8')).prompts[0].prompt_ids,
  },
  {
    key: '0.5b',
    label: 'Qwen2.5-0.5B-shaped, random f32',
    defaultWeights: ['f32', 'f16', 'q4'],
    slow: false,
    dir: async () => {
      const dir = path.join(DATA, 'qwen2.5-0.5b-random');
      if (!existsSync(path.join(dir, 'model.safetensors'))) {
        process.stderr.write('generating the random Qwen2.5-0.5B-shaped checkpoint (2 GB, once)\n');
        execFileSync('/usr/bin/python3', [path.join(ROOT, 'bench/make_random_qwen.py'), dir], { stdio: 'inherit' });
      }
      return dir;
    },
    prompt: randomPrompt,
  },
  {
    key: '1.5b',
    label: 'Qwen2.5-1.5B-shaped, random bf16',
    defaultWeights: ['q4'],
    slow: true,
    dir: async () => {
      // The scale test's checkpoint (same generator, shape and dtype), read-only, when it is there.
      const scale = path.join(ROOT, '.scale/qwen2.5-1.5b-random');
      if (existsSync(path.join(scale, 'model.safetensors'))) return scale;
      const dir = path.join(DATA, 'qwen2.5-1.5b-random-bf16');
      if (!existsSync(path.join(dir, 'config.json'))) {
        process.stderr.write('generating the random Qwen2.5-1.5B-shaped bf16 checkpoint (3.1 GB, once)\n');
        await writeRandomQwen(dir, { shape: QWEN_SHAPES['1.5b'], dtype: 'BF16' });
      }
      return dir;
    },
    prompt: randomPrompt,
  },
];

/** One onnxruntime-web measurement in its own process (./infer-ort.ts); undefined when it failed. */
function runOrt(dir: string, weights: WeightFormat, prompt: number[], newTokens: number, reps: number) {
  const args = ['--import', 'tsx', path.join(import.meta.dirname, 'infer-ort.ts'), '--model', dir];
  args.push('--weights', weights, '--block-size', String(blockSize), '--prompt-ids', prompt.join(','));
  args.push('--new-tokens', String(newTokens), '--reps', String(reps), '--warmup-s', String(warmupS));
  args.push('--threads', String(threads));
  try {
    const out = execFileSync(process.execPath, args, {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return JSON.parse(out.trim().split('\n').at(-1)!) as Measured;
  } catch (e) {
    process.stderr.write(`  ${weights} on ${dir} did not complete: ${(e as Error).message.split('\n')[0]}\n`);
    return undefined;
  }
}

ensureOpenBlas();
const shapeKeys = values.only ? [ONLY[values.only] ?? values.only] : values.shapes!.split(',');
const formats = values.weights?.split(',') as WeightFormat[] | undefined;
// Measured before any child runs, while this process is the only one of the bench.
const bandwidth = memcpyGBs();
process.stderr.write(`memcpy: ${bandwidth.toFixed(2)} GB/s copied (best of 8 copies of 256 MiB)\n`);
const rows: BenchRow[] = [];
for (const shape of SHAPES.filter((s) => shapeKeys.includes(s.key))) {
  const dir = await shape.dir();
  const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const prompt = shape.prompt();
  const newTokens = Number(shape.slow ? values['slow-new-tokens'] : values['new-tokens']);
  const reps = Number(shape.slow ? values['slow-reps'] : values.reps);
  const elements = decodeMatrixElements(config);
  const torchRuns: TorchMeasured[] = [];
  for (const dtype of values['torch-bf16'] ? (['f32', 'bf16'] as const) : (['f32'] as const)) {
    process.stderr.write(`${shape.label}: PyTorch ${dtype}\n`);
    const t = runTorch({ dir, prompt, newTokens, reps, warmupS, threads, dtype });
    process.stderr.write(`  ${describeBlas(t.blas, t.threads)}\n`);
    torchRuns.push(t);
  }
  for (const weights of formats ?? shape.defaultWeights) {
    process.stderr.write(`${shape.label}: onnxruntime-web ${weights}\n`);
    const ort = runOrt(dir, weights, prompt, newTokens, reps);
    rows.push({ shape: shape.label, weights, prompt: prompt.length, ort, torch: torchRuns, elements, newTokens, reps });
  }
}

const torch = rows.find((r) => r.torch[0])?.torch[0];
console.log(
  `\nNode ${process.version}, onnxruntime-web wasm EP (${threads} thread${threads > 1 ? 's' : ''}), PyTorch ${torch?.torch} eager (${threads} thread${threads > 1 ? 's' : ''}), ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')} (1 / 5 / 15 min) at the end; ` +
    `${values['new-tokens']} new tokens, best of ${values.reps} runs after ≥ ${warmupS} s of warm-up runs (at least one); the 1.5B rows: ${values['slow-new-tokens']} new tokens, best of ${values['slow-reps']} (slow)`,
);
if (torch) console.log(describeBlas(torch.blas, torch.threads));
console.log(
  `memcpy ${bandwidth.toFixed(2)} GB/s (bytes copied per second, best of 8 copies of 256 MiB; a copy also writes as many bytes, so a pure read stream can exceed it); q4 block ${blockSize}\n`,
);
printTable(rows, bandwidth, blockSize);
