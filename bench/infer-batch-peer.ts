/**
 * The children of `npm run bench:batch`: one batched onnxruntime-web measurement
 * (./infer-batch-ort.ts) or one PyTorch batch-mode measurement (./infer_torch.py --batch-prompts,
 * on OpenBLAS with every thread pool pinned, as ./infer-peer.ts runs it), each in its own process.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { BatchMeasured } from './infer-batch-ort';
import type { BlasInUse } from './infer-peer';

export interface BatchRun {
  dir: string;
  prompts: number[][];
  newTokens: number;
  warmupNewTokens: number;
  warmupS: number;
  /** batchGenerate's prefill mode (the decode steps are the same either way). */
  prefill: 'alone' | 'together';
  reps: number;
  threads: number;
}

export interface TorchBatchMeasured {
  torch: string;
  threads: number;
  blas: BlasInUse;
  batch: number;
  decode_tok_s: number;
  decode_tok_cpu_s: number;
  decode_step_ms: number;
  ids: number[][];
  max_rss_bytes: number;
  load_s: number;
}

/** One table row: both engines at one B on one shape. */
export interface BatchRow {
  shape: string;
  key: string;
  /** The thread count on both sides (ORT's wasm numThreads; PyTorch's and OpenBLAS's pools). */
  threads: number;
  B: number;
  newTokens: number;
  reps: number;
  ort: BatchMeasured | undefined;
  torch: TorchBatchMeasured;
}

const rows = (prompts: number[][]) => prompts.map((p) => p.join(',')).join(';');
const lastLine = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!);

/** A batched ORT measurement; undefined when it failed (its stderr says why). */
export function runOrtBatch(r: BatchRun, probe: boolean): BatchMeasured | undefined {
  const args = ['--import', 'tsx', path.join(import.meta.dirname, 'infer-batch-ort.ts'), '--model', r.dir];
  args.push('--prompts', rows(r.prompts), '--new-tokens', String(r.newTokens), '--reps', String(r.reps));
  args.push('--warmup-new-tokens', String(r.warmupNewTokens), '--warmup-s', String(r.warmupS));
  args.push('--threads', String(r.threads), '--prefill', r.prefill);
  if (probe) args.push('--probe');
  try {
    const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    return lastLine(out) as BatchMeasured;
  } catch (e) {
    process.stderr.write(
      `  B=${r.prompts.length} on ${r.dir} did not complete: ${(e as Error).message.split('\n')[0]}\n`,
    );
    return undefined;
  }
}

/** PyTorch with the same batch and greedy loop (f32, OpenBLAS, `threads` threads in every pool). */
export function runTorchBatch(r: BatchRun): TorchBatchMeasured {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OMP_NUM_THREADS: String(r.threads),
    OPENBLAS_NUM_THREADS: String(r.threads),
    MKL_NUM_THREADS: String(r.threads),
    // torch's OpenMP threads otherwise spin after each parallel region and take the cores from
    // OpenBLAS's own threads: at 2 threads a B = 8 step took 1040 ms spinning, 336 ms passive.
    OMP_WAIT_POLICY: 'PASSIVE',
  };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const args = [path.join(import.meta.dirname, 'infer_torch.py'), '--model', r.dir, '--batch-prompts', rows(r.prompts)];
  args.push('--new-tokens', String(r.newTokens), '--warmup-new-tokens', String(r.warmupNewTokens));
  args.push('--reps', String(r.reps), '--warmup-s', String(r.warmupS), '--threads', String(r.threads));
  const out = execFileSync('/usr/bin/python3', args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
  return lastLine(out) as TorchBatchMeasured;
}
