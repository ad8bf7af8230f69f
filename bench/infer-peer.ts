/**
 * bench:infer's PyTorch peer (bench/infer_torch.py on Debian's python3-torch): on OpenBLAS
 * (libopenblas0-pthread, installed with apt when missing), without this machine's
 * OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set for old OpenBLAS builds; they slow a current one),
 * every thread pool pinned; the BLAS and thread count it used are reported.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { Measured } from './infer-common';

const PY = '/usr/bin/python3';
const OPENBLAS = 'libopenblas0-pthread';

/** Installs the optimized BLAS when missing (as scripts/lib.sh's apt_ensure does), or says what to run. */
export function ensureOpenBlas(): void {
  const installed = () => {
    try {
      const status = execFileSync('dpkg-query', ['-W', '-f', '${Status}', OPENBLAS], { encoding: 'utf8' });
      return status === 'install ok installed';
    } catch {
      return false;
    }
  };
  if (installed()) return;
  const sudo = process.getuid?.() !== 0;
  const aptArgs = ['install', '-y', '-qq', '--no-install-recommends', OPENBLAS];
  const apt = (args: string[]) =>
    execFileSync(sudo ? 'sudo' : 'apt-get', sudo ? ['apt-get', ...args] : args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  process.stderr.write(`apt: installing ${OPENBLAS} (PyTorch would otherwise run on the reference BLAS)\n`);
  try {
    apt(['update', '-qq']);
    apt(aptArgs);
  } catch {
    // reported below, with the command to run
  }
  const install = `${sudo ? 'sudo ' : ''}apt-get ${aptArgs.join(' ')}`;
  if (!installed()) throw new Error(`${OPENBLAS} is missing and could not be installed; run: ${install}`);
}

export interface BlasInUse {
  libraries: string[];
  openblas?: string;
  core?: string;
  threads?: number;
}

/** One line naming PyTorch's BLAS; refuses a peer that is not on OpenBLAS (its ratios would be inflated). */
export function describeBlas(blas: BlasInUse, torchThreads: number): string {
  if (!blas.openblas)
    throw new Error(
      `PyTorch loaded ${blas.libraries.join(', ') || 'no BLAS'}, not OpenBLAS; run: update-alternatives --set ` +
        'libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
    );
  return `PyTorch BLAS: ${blas.openblas} (core ${blas.core}, ${blas.threads} BLAS thread(s), ${torchThreads} torch thread(s)) from ${blas.libraries.at(-1)}`;
}

/** What infer_torch.py prints: rates at the top level, the BLAS it loaded, its peak RSS. */
export interface TorchMeasured extends Measured {
  torch: string;
  threads: number;
  dtype: 'f32' | 'bf16';
  blas: BlasInUse;
}

export interface TorchRun {
  dir: string;
  prompt: number[];
  newTokens: number;
  reps: number;
  warmupS: number;
  threads: number;
  dtype: 'f32' | 'bf16';
}

/** Runs infer_torch.py in its own process (so its peak RSS is its own) and reads its JSON. */
export function runTorch(r: TorchRun): TorchMeasured {
  // Debian's torch calls the system BLAS (OpenBLAS: its own thread pool); pin every pool, and drop
  // the OpenBLAS overrides this machine sets for old builds (from the child's environment only).
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
  const args = ['--model', r.dir, '--prompt-ids', r.prompt.join(','), '--new-tokens', String(r.newTokens)];
  args.push('--threads', String(r.threads), '--reps', String(r.reps), '--warmup-s', String(r.warmupS));
  args.push('--dtype', r.dtype);
  const out = execFileSync(PY, [path.join(import.meta.dirname, 'infer_torch.py'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const j = JSON.parse(out) as Omit<TorchMeasured, 'rates'> & TorchMeasured['rates'];
  const rates = {
    prefill_tok_s: j.prefill_tok_s,
    decode_tok_s: j.decode_tok_s,
    ttft_ms: j.ttft_ms,
    prefill_tok_cpu_s: j.prefill_tok_cpu_s,
    decode_tok_cpu_s: j.decode_tok_cpu_s,
  };
  return { ...j, rates };
}
