/**
 * `npm run bench:infer`: prefill and decode tokens/s of the onnxruntime-web engine in Node on the
 * wasm EP, against PyTorch eager on the CPU (bench/infer_torch.py: Debian's python3-torch, the same
 * f32 weights, the same greedy loop with a KV cache), on
 *   - the demo model (public/models/demo-base), and
 *   - a random-weight f32 checkpoint shaped like Qwen2.5-0.5B (generated into bench/.data/).
 * The PyTorch peer runs on OpenBLAS (libopenblas0-pthread, installed with apt when missing), without
 * this machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set for old OpenBLAS builds; they slow a
 * current one), and the BLAS and thread count it used are printed.
 * Prints README table rows. Options: --threads N (both engines; default 1), --new-tokens N,
 * --prompt-tokens N, --reps N (best of N runs), --warmup-s S (untimed runs first), --only demo|qwen05b.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Checkpoint } from '../src/core/formats/checkpoint';
import { generate } from '../src/infer/generate';
import { CausalLM } from '../src/infer/model';
import { nodeRuntimeAdapter } from '../src/node/ort-adapter';
import { FsModelFolder } from '../src/node/fs-folder';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    'new-tokens': { type: 'string', default: '32' },
    'prompt-tokens': { type: 'string', default: '64' },
    only: { type: 'string' },
    reps: { type: 'string', default: '3' },
    'warmup-s': { type: 'string', default: '10' },
  },
});
const threads = Number(values.threads);
const newTokens = Number(values['new-tokens']);
const promptTokens = Number(values['prompt-tokens']);
const reps = Number(values.reps);
const warmupS = Number(values['warmup-s']);
const ROOT = path.resolve(import.meta.dirname, '..');
const QWEN = path.join(ROOT, 'bench/.data/qwen2.5-0.5b-random');
const PY = '/usr/bin/python3';
const OPENBLAS = 'libopenblas0-pthread';

/** Installs the optimized BLAS when missing (as scripts/lib.sh's apt_ensure does), or says what to run. */
function ensureOpenBlas(): void {
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

interface BlasInUse {
  libraries: string[];
  openblas?: string;
  core?: string;
  threads?: number;
}

/** One line naming PyTorch's BLAS; refuses a peer that is not on OpenBLAS (its ratios would be inflated). */
function describeBlas(blas: BlasInUse, torchThreads: number): string {
  if (!blas.openblas)
    throw new Error(
      `PyTorch loaded ${blas.libraries.join(', ') || 'no BLAS'}, not OpenBLAS; run: update-alternatives --set ` +
        'libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
    );
  return `PyTorch BLAS: ${blas.openblas} (core ${blas.core}, ${blas.threads} BLAS thread(s), ${torchThreads} torch thread(s)) from ${blas.libraries.at(-1)}`;
}

/** Best of `reps` runs for each rate (the least disturbed run), wall clock and per CPU-second. */
interface Rates {
  prefill_tok_s: number;
  decode_tok_s: number;
  ttft_ms: number;
  prefill_tok_cpu_s: number;
  decode_tok_cpu_s: number;
  ids: number[];
}
interface Row {
  model: string;
  params: string;
  prompt: number;
  ort: Rates;
  torch: Rates & { torch: string; threads: number; blas: BlasInUse };
}

async function benchOne(model: string, dir: string, prompt: number[]): Promise<Row> {
  const folder = new FsModelFolder(dir);
  const ckpt = await Checkpoint.open(folder);
  const t0 = performance.now();
  const lm = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter: nodeRuntimeAdapter({ threads }) });
  process.stderr.write(`${model}: session on ${lm.ep.ep} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  // Warm-up, the same on both sides: full untimed runs until warmup-s seconds have passed. V8
  // first runs ORT's wasm with its baseline compiler and tiers hot functions up to TurboFan
  // while they run; until then decoding is several times slower.
  for (const w0 = performance.now(); performance.now() - w0 < warmupS * 1000;)
    await generate(lm, prompt, { maxNewTokens: newTokens });
  // CPU seconds as well as wall time: on a shared machine, wall time measures the neighbours.
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  let best: Rates | undefined;
  for (let i = 0; i < reps; i++) {
    const c0 = cpu();
    let c1 = 0;
    const r = await generate(lm, prompt, { maxNewTokens: newTokens, onToken: () => void (c1 ||= cpu()) });
    const c2 = cpu();
    const t = r.timings;
    const run: Rates = {
      prefill_tok_s: t.prefillTokPerS,
      decode_tok_s: t.decodeTokPerS,
      ttft_ms: t.timeToFirstTokenMs,
      prefill_tok_cpu_s: prompt.length / (c1 - c0),
      decode_tok_cpu_s: (r.ids.length - 1) / (c2 - c1),
      ids: r.ids,
    };
    best = !best
      ? run
      : {
          prefill_tok_s: Math.max(best.prefill_tok_s, run.prefill_tok_s),
          decode_tok_s: Math.max(best.decode_tok_s, run.decode_tok_s),
          ttft_ms: Math.min(best.ttft_ms, run.ttft_ms),
          prefill_tok_cpu_s: Math.max(best.prefill_tok_cpu_s, run.prefill_tok_cpu_s),
          decode_tok_cpu_s: Math.max(best.decode_tok_cpu_s, run.decode_tok_cpu_s),
          ids: run.ids,
        };
  }
  await lm.release();
  await folder.close();
  const params = [...ckpt.tensors.values()].reduce((n, t) => n + t.byteLength / (t.dtype === 'F32' ? 4 : 2), 0);
  process.stderr.write(`${model}: onnxruntime-web done; running PyTorch\n`);
  // Debian's torch calls the system BLAS (OpenBLAS: its own thread pool); pin every pool, and drop
  // the OpenBLAS overrides this machine sets for old builds (from the child's environment only).
  const torchEnv: NodeJS.ProcessEnv = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
  };
  delete torchEnv.OPENBLAS_CORETYPE;
  delete torchEnv.OPENBLAS_L2_SIZE;
  const out = execFileSync(
    PY,
    [
      path.join(ROOT, 'bench/infer_torch.py'),
      '--model',
      dir,
      '--prompt-ids',
      prompt.join(','),
      '--new-tokens',
      String(newTokens),
      '--threads',
      String(threads),
      '--reps',
      String(reps),
      '--warmup-s',
      String(warmupS),
    ],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env: torchEnv,
    },
  );
  const torch = JSON.parse(out) as Row['torch'];
  process.stderr.write(`${model}: ${describeBlas(torch.blas, torch.threads)}\n`);
  return {
    model,
    params: params >= 1e8 ? `${(params / 1e6).toFixed(0)}M` : `${(params / 1e6).toFixed(1)}M`,
    prompt: prompt.length,
    ort: best!,
    torch,
  };
}

ensureOpenBlas();
const rows: Row[] = [];
if (values.only !== 'qwen05b') {
  const golden = JSON.parse(readFileSync(path.join(ROOT, 'test/golden/demo-base.golden.json'), 'utf8'));
  rows.push(await benchOne('demo-base', path.join(ROOT, 'public/models/demo-base'), golden.prompts[0].prompt_ids));
}
if (values.only !== 'demo') {
  if (!existsSync(path.join(QWEN, 'model.safetensors'))) {
    process.stderr.write('generating the random Qwen2.5-0.5B-shaped checkpoint (2 GB, once)\n');
    execFileSync(PY, [path.join(ROOT, 'bench/make_random_qwen.py'), QWEN], { stdio: 'inherit' });
  }
  const prompt = Array.from({ length: promptTokens }, (_, i) => (i * 7919 + 13) % 151000);
  rows.push(await benchOne('Qwen2.5-0.5B-shaped, random, f32', QWEN, prompt));
}

const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
console.log(
  `\nNode ${process.version}, onnxruntime-web wasm EP (${threads} thread${threads > 1 ? 's' : ''}), PyTorch ${rows[0]?.torch.torch} eager (${threads} thread${threads > 1 ? 's' : ''}), ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load average ${os.loadavg()[0]!.toFixed(1)}; ${newTokens} new tokens; best of ${reps} runs after ${warmupS} s of warm-up runs\n`,
);
if (rows[0]) console.log(`${describeBlas(rows[0].torch.blas, rows[0].torch.threads)}\n`);
console.log(
  'Wall-clock tokens/s (and, in brackets, tokens per CPU-second, which neighbours on a shared machine do not distort):\n',
);
console.log(
  '| model | params | prompt tokens | ORT prefill tok/s | PyTorch prefill tok/s | prefill ratio | ORT decode tok/s | PyTorch decode tok/s | decode ratio | ORT time to first token | same greedy tokens |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const same = r.ort.ids.join() === r.torch.ids.join();
  const o = r.ort;
  const t = r.torch;
  const both = (wall: number, perCpu: number) => `${f(wall)} (${f(perCpu)})`;
  const ratio = (a: number, b: number, ca: number, cb: number) => `${(a / b).toFixed(2)}× (${(ca / cb).toFixed(2)}×)`;
  console.log(
    `| ${r.model} | ${r.params} | ${r.prompt} | ${both(o.prefill_tok_s, o.prefill_tok_cpu_s)} | ${both(t.prefill_tok_s, t.prefill_tok_cpu_s)} | ${ratio(o.prefill_tok_s, t.prefill_tok_s, o.prefill_tok_cpu_s, t.prefill_tok_cpu_s)} | ${both(o.decode_tok_s, o.decode_tok_cpu_s)} | ${both(t.decode_tok_s, t.decode_tok_cpu_s)} | ${ratio(o.decode_tok_s, t.decode_tok_s, o.decode_tok_cpu_s, t.decode_tok_cpu_s)} | ${o.ttft_ms.toFixed(0)} ms | ${same ? 'yes' : `no (first difference at token ${r.ort.ids.findIndex((id, i) => id !== r.torch.ids[i])})`} |`,
  );
}
