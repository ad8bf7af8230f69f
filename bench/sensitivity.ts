/**
 * `npx tsx bench/sensitivity.ts` — the Sens-Merging backward pass, CPU twin (plain TS, f64)
 * against WebGPU (f32; Dawn on lavapipe here, or whatever adapter Node finds): wall time of one
 * sensitivity pass and its time per token, on a seeded random sample with every token after the
 * first a target. Rows: the demo model (public/models/demo-slow) and the Qwen2.5-0.5B shape
 * (random bf16 weights in .scale/qwen2.5-0.5b-random, written on first use as by test:scale).
 * The WebGPU context is warmed up first (pipelines compiled) on the demo model; each figure is the
 * best of BENCH_REPEAT runs (default 1; the machine is shared).
 * Environment: BENCH_DEMO_TOKENS (default 96), BENCH_05B_TOKENS (default 32), BENCH_SKIP_05B=1,
 * BENCH_ONLY=cpu|webgpu (one backend; with webgpu, the printed peak RSS is the WebGPU pass's memory:
 * on a CPU adapter the "GPU" buffers are in this process too).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Checkpoint } from '../src/core/formats/checkpoint';
import { SensGpu } from '../src/infer/sens/gpu/context';
import { gpuSensitivityPass } from '../src/infer/sens/gpu/pass';
import { type SensSample, sensitivityPass } from '../src/infer/sens/pass';
import { SensWeights } from '../src/infer/sens/weights';
import { FsModelFolder } from '../src/node/fs-folder';
import { nodeGpu } from '../src/node/webgpu-env';
import { QWEN_SHAPES, writeRandomQwen, xorshift32 } from '../tools/random-qwen';

const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));
const ONLY = process.env.BENCH_ONLY;
const QWEN_05B = path.resolve('.scale/qwen2.5-0.5b-random');

function sample(vocab: number, n: number): SensSample {
  const next = xorshift32(1);
  const ids = Array.from({ length: n }, () => next() % vocab);
  return { ids, targets: ids.map((_, k) => k).slice(1) };
}

async function best(run: () => Promise<unknown>): Promise<number> {
  let t = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    await run();
    t = Math.min(t, performance.now() - t0);
  }
  return t / 1000;
}

async function row(gpu: SensGpu, label: string, dir: string, tokens: number): Promise<string> {
  const folder = new FsModelFolder(dir);
  try {
    const weights = new SensWeights(await Checkpoint.open(folder, { requireConfig: true }));
    const s = sample(weights.spec.vocab, tokens);
    const onBlock = (d: number, n: number) => process.stderr.write(`\r${label}: block ${d}/${n}\x1b[K`);
    const cpu = ONLY === 'webgpu' ? NaN : await best(() => sensitivityPass(weights, s, { onBlock }));
    const webgpu = ONLY === 'cpu' ? NaN : await best(() => gpuSensitivityPass(gpu, weights, s, { onBlock }));
    process.stderr.write('\n');
    const time = (t: number) => (Number.isNaN(t) ? '—' : `${t.toFixed(1)} s (${((t * 1000) / tokens).toFixed(1)} ms)`);
    const ratio = Number.isNaN(cpu / webgpu) ? '—' : `${(cpu / webgpu).toFixed(2)}×`;
    return `| ${label} | ${tokens} | ${time(cpu)} | ${time(webgpu)} | ${ratio} |`;
  } finally {
    await folder.close();
  }
}

const gpu = await SensGpu.create(await nodeGpu());
const demo = path.resolve('public/models/demo-slow');
{
  const folder = new FsModelFolder(demo);
  const weights = new SensWeights(await Checkpoint.open(folder, { requireConfig: true }));
  await gpuSensitivityPass(gpu, weights, sample(weights.spec.vocab, 8));
  await folder.close();
}
const rows = [
  '| model | tokens | CPU twin (per token) | WebGPU (per token) | CPU / WebGPU |',
  '|---|---|---|---|---|',
  await row(gpu, 'demo-slow', demo, Number(process.env.BENCH_DEMO_TOKENS ?? 96)),
];
if (!process.env.BENCH_SKIP_05B) {
  if (!existsSync(path.join(QWEN_05B, 'model.safetensors')))
    await writeRandomQwen(QWEN_05B, { shape: QWEN_SHAPES['0.5b'], dtype: 'BF16', seed: 1 });
  rows.push(await row(gpu, 'Qwen2.5-0.5B shape (bf16)', QWEN_05B, Number(process.env.BENCH_05B_TOKENS ?? 32)));
}
const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
console.log(`adapter: ${gpu.name}\n${rows.join('\n')}\npeak RSS ${(peakKb / 2 ** 20).toFixed(2)} GiB`);
await gpu.dispose();
