/**
 * One benchmark merge in its own process (so peak RSS is this merge's own, worker threads
 * included): the Qwen-shaped checkpoints from gen-qwen-checkpoints.ts, one method, one backend,
 * through the same merge() entry point the CLI and the worker use. Prints one JSON line. Used by
 * bench/merge.ts.
 *   npx tsx bench/merge-run.ts --backend webgpu|cpu|cpu-reference --method task_arithmetic|ties|dare_ties
 *     [--threads N (cpu; default the cores available)] [--data DIR] [--chunk N] [--tensors N]
 */
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Checkpoint } from '../src/core/formats/checkpoint';
import type { TensorBackend } from '../src/core/merge/backend';
import { CpuBackend } from '../src/core/merge/cpu-backend';
import { FastCpuBackend } from '../src/core/merge/fast/fast-cpu-backend';
import { merge } from '../src/core/merge/execute';
import { parseRecipe } from '../src/core/recipe/parse';
import type { WebGpuBackend } from '../src/gpu/backend';
import { createNodeWebGpuBackend } from '../src/node/webgpu-backend';
import { FsModelFolder, FsOutputFolder } from '../src/node/fs-folder';
import { defaultThreads, nodeTensorWorkers } from '../src/node/merge-threads';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'webgpu' },
    method: { type: 'string', default: 'task_arithmetic' },
    chunk: { type: 'string' },
    data: { type: 'string' },
    threads: { type: 'string' },
    /** Only the first N tensors of the plan (keeps the slow CPU reference short); all by default. */
    tensors: { type: 'string' },
  },
});
const DATA = path.resolve(values.data ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '.data'));

export const RECIPES: Record<string, string> = {
  task_arithmetic: `merge_method: task_arithmetic
base_model: qwen-base
models:
  - {model: qwen-ft1, parameters: {weight: 0.5}}
  - {model: qwen-ft2, parameters: {weight: 0.5}}`,
  ties: `merge_method: ties
base_model: qwen-base
models:
  - {model: qwen-ft1, parameters: {weight: 0.5, density: 0.3}}
  - {model: qwen-ft2, parameters: {weight: 0.5, density: 0.3}}`,
  dare_ties: `merge_method: dare_ties
base_model: qwen-base
models:
  - {model: qwen-ft1, parameters: {weight: 0.5, density: 0.3}}
  - {model: qwen-ft2, parameters: {weight: 0.5, density: 0.3}}
random_seed: 1`,
};

/** The TensorBackend methods timed (all asynchronous). */
const PROFILED = new Set<string | symbol>([
  'load',
  'store',
  'elementwise',
  'weightedSum',
  'absHistogram',
  'electSign',
  'disjointMean',
  'dot',
  'signConflicts',
  'matmul',
]);

/** Wall time spent awaiting each backend method (GPU work shows up at the sync points: store, absHistogram, dot). */
function profiled<T>(be: TensorBackend<T>, ms: Record<string, number>): TensorBackend<T> {
  return new Proxy(be, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function') return v;
      if (!PROFILED.has(prop)) return v.bind(target); // release, and a backend's own synchronous helpers
      return async (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return await v.apply(target, args);
        } finally {
          ms[prop as string] = (ms[prop as string] ?? 0) + performance.now() - t0;
        }
      };
    },
  });
}

/** Peak resident memory of this process (VmHWM), worker threads included. */
function vmHwmMB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

const recipeText = RECIPES[values.method!];
if (!recipeText) throw new Error(`unknown method ${values.method}`);
const { recipe } = parseRecipe(recipeText);
const sources = new Map<string, Checkpoint>();
for (const m of ['qwen-base', 'qwen-ft1', 'qwen-ft2'])
  sources.set(m, await Checkpoint.open(new FsModelFolder(path.join(DATA, m))));
if (values.tensors) {
  // A prefix of the tensors: same files, fewer tensors (the CPU reference is slow).
  const keep = new Set([...sources.get('qwen-base')!.tensors.keys()].slice(0, Number(values.tensors)));
  for (const c of sources.values())
    for (const n of [...c.tensors.keys()]) if (!keep.has(n)) (c.tensors as Map<string, unknown>).delete(n);
}
const backend: TensorBackend<unknown> =
  values.backend === 'cpu'
    ? (new FastCpuBackend() as TensorBackend<unknown>)
    : values.backend === 'cpu-reference'
      ? (new CpuBackend() as TensorBackend<unknown>)
      : ((await createNodeWebGpuBackend()) as TensorBackend<unknown>);
const threads = values.backend === 'cpu' ? Number(values.threads ?? defaultThreads()) : 1;
const workers = threads > 1 ? nodeTensorWorkers(threads, 'cpu') : undefined;
const outDir = path.join(DATA, `out-${values.backend}-${values.method}`);
rmSync(outDir, { recursive: true, force: true });
const phase: Record<string, number> = {};
const summary = await merge(recipe, sources, profiled(backend, phase), new FsOutputFolder(outDir), {
  ...(values.chunk ? { chunkElements: Number(values.chunk) } : {}),
  ...(workers ? { workers } : {}),
});
const gpuStats = values.backend !== 'webgpu' ? undefined : (backend as unknown as WebGpuBackend).stats();
await backend.dispose?.();
for (const c of sources.values()) await c.close?.();
rmSync(outDir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    backend: summary.backend,
    method: values.method,
    tensors: summary.tensors,
    ms: summary.ms,
    bytesRead: summary.bytesRead,
    bytesWritten: summary.bytesWritten,
    maxRssMB: vmHwmMB(),
    threads,
    phaseMs: phase,
    gpu: gpuStats && {
      peakPoolMB: gpuStats.storage.peakAllocatedBytes / 2 ** 20,
      submits: gpuStats.submits,
      dispatches: gpuStats.dispatches,
    },
  }),
);
process.exit(0);
