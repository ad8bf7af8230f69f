/**
 * `npm run bench:merge`: merges three Qwen2.5-0.5B-shaped checkpoints (~1 GB each; f16 made by
 * gen-qwen-checkpoints.ts, bf16 copies by f16_to_bf16.py, on first run) with TA and TIES, side by
 * side in one run: the WebGPU backend (Dawn on lavapipe here), the fast CPU backend (worker
 * threads), and the same merges streamed tensor by tensor in PyTorch (mergekit's arithmetic) and
 * in numpy (merge_peer.py), each merge in its own process. Prints GB/s (bytes read + written), the
 * share of this machine's memcpy bandwidth, peak RSS (VmHWM), each row's speed against PyTorch,
 * TIES ÷ TA time, and the issue's targets with whether each is met.
 *   npm run bench:merge [-- --dtypes f16,bf16] [--methods task_arithmetic,ties] [--engines webgpu,cpu,torch,numpy]
 *     [--threads N] [--cpu-tensors N] [--chunk N]
 * `cpu-reference` is an engine too (slow: --cpu-tensors N runs it on the first N tensors; GB/s stays comparable).
 * PyTorch gets the same thread count as the CPU backend (--threads, default the cores available).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DATA = path.join(HERE, '.data');
const PYTHON = '/usr/bin/python3';
const MODELS = ['qwen-base', 'qwen-ft1', 'qwen-ft2'];
const { values } = parseArgs({
  options: {
    dtypes: { type: 'string', default: 'f16,bf16' },
    methods: { type: 'string', default: 'task_arithmetic,ties' },
    engines: { type: 'string', default: 'webgpu,cpu,torch,numpy' },
    threads: { type: 'string' },
    'cpu-tensors': { type: 'string' },
    chunk: { type: 'string' },
  },
});
const threads = Number(values.threads ?? availableParallelism());

interface Run {
  dtype: string;
  engine: string;
  method: string;
  tensors: number;
  ms: number;
  bytesRead: number;
  bytesWritten: number;
  maxRssMB: number;
  threads?: number;
}

function memcpyGBs(): { copyGBs: number; rwGBs: number } {
  const size = 256 * 2 ** 20;
  const src = Buffer.alloc(size, 1);
  const dst = Buffer.alloc(size);
  src.copy(dst); // warm up, fault pages in
  let best = Infinity;
  for (let r = 0; r < 6; r++) {
    const t0 = performance.now();
    src.copy(dst);
    best = Math.min(best, performance.now() - t0);
  }
  const copyGBs = size / 1e9 / (best / 1000);
  return { copyGBs, rwGBs: 2 * copyGBs };
}

const dataDir = (dtype: string) => (dtype === 'f16' ? DATA : path.join(DATA, 'bf16'));

function ensureCheckpoints(dtypes: readonly string[]) {
  if (!existsSync(path.join(DATA, 'qwen-ft2', 'model.safetensors'))) {
    mkdirSync(DATA, { recursive: true });
    console.log('generating the Qwen2.5-0.5B-shaped f16 checkpoints (first run only)…');
    execFileSync(process.execPath, ['--import', 'tsx', path.join(HERE, 'gen-qwen-checkpoints.ts')], {
      stdio: 'inherit',
    });
  }
  if (dtypes.includes('bf16'))
    for (const m of MODELS)
      if (!existsSync(path.join(dataDir('bf16'), m, 'model.safetensors'))) {
        console.log(`converting ${m} to bf16 (first run only)…`);
        execFileSync(PYTHON, [path.join(HERE, 'f16_to_bf16.py'), path.join(DATA, m), path.join(dataDir('bf16'), m)], {
          stdio: 'inherit',
        });
      }
}

/** One merge in its own process; its last stdout line is a JSON record. */
function runOne(dtype: string, engine: string, method: string): Run | string {
  const data = dataDir(dtype);
  const peer = engine === 'torch' || engine === 'numpy';
  const [cmd, args] = peer
    ? [
        PYTHON,
        [
          path.join(HERE, 'merge_peer.py'),
          ...['--lib', engine, '--method', method, '--data', data, '--threads', String(threads)],
          ...['--out', path.join(data, `out-${engine}-${method}.safetensors`)],
        ],
      ]
    : [
        process.execPath,
        [
          ...['--import', 'tsx', path.join(HERE, 'merge-run.ts')],
          ...['--backend', engine, '--method', method, '--data', data, '--threads', String(threads)],
          ...(values.chunk ? ['--chunk', values.chunk] : []),
          ...(engine === 'cpu-reference' && values['cpu-tensors'] ? ['--tensors', values['cpu-tensors']] : []),
        ],
      ];
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (peer) rmSync(path.join(data, `out-${engine}-${method}.safetensors`), { force: true });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    return `FAILED (exit ${r.status})\n${r.stderr
      .split('\n')
      .filter((l) => !l.startsWith('Warning:'))
      .slice(-15)
      .join('\n')}`;
  return { ...(JSON.parse(line) as Run), dtype, engine, method };
}

const dtypes = values.dtypes!.split(',');
ensureCheckpoints(dtypes);
const mem = memcpyGBs();
const loadBefore = loadavg();
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; memcpy ${mem.copyGBs.toFixed(2)} GB/s copied = ${mem.rwGBs.toFixed(2)} GB/s read + written; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}; CPU backend and PyTorch on ${threads} threads`,
);

const runs: Run[] = [];
const save = () =>
  writeFileSync(path.join(DATA, 'results.json'), JSON.stringify({ memcpy: mem, threads, runs }, null, 2));
for (const dtype of dtypes)
  for (const engine of values.engines!.split(','))
    for (const method of values.methods!.split(',')) {
      process.stdout.write(`${dtype} ${engine} ${method} … `);
      const run = runOne(dtype, engine, method);
      if (typeof run === 'string') {
        console.log(run);
        continue;
      }
      runs.push(run);
      save(); // kept if interrupted
      console.log(
        `${(run.ms / 1000).toFixed(1)} s, ${gbs(run).toFixed(2)} GB/s, peak RSS ${run.maxRssMB.toFixed(0)} MB`,
      );
    }
const loadAfter = loadavg();

function gbs(r: Run) {
  return (r.bytesRead + r.bytesWritten) / 1e9 / (r.ms / 1000);
}
const find = (dtype: string, engine: string, method: string) =>
  runs.find((r) => r.dtype === dtype && r.engine === engine && r.method === method);
const label: Record<string, string> = { task_arithmetic: 'TA', ties: 'TIES', dare_ties: 'DARE-TIES' };
const engineLabel: Record<string, string> = {
  webgpu: 'WebGPU (lavapipe)',
  cpu: `fast CPU, ${threads} threads`,
  'cpu-reference': 'CPU reference',
  torch: `PyTorch (mergekit), ${threads} threads`,
  numpy: 'numpy',
};

const rows = [
  '| dtype | engine | method | tensors | time | GB/s (read+written) | % of memcpy | speed ÷ PyTorch | ÷ TA time | peak RSS |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
for (const r of runs) {
  const torch = find(r.dtype, 'torch', r.method);
  const ta = find(r.dtype, r.engine, 'task_arithmetic');
  rows.push(
    `| ${r.dtype} | ${engineLabel[r.engine] ?? r.engine} | ${label[r.method] ?? r.method} | ${r.tensors} | ${(r.ms / 1000).toFixed(1)} s | ${gbs(r).toFixed(2)} | ${((100 * gbs(r)) / mem.rwGBs).toFixed(1)}% | ${torch ? `${(gbs(r) / gbs(torch)).toFixed(2)}×` : ''} | ${ta && ta.tensors === r.tensors ? (r.ms / ta.ms).toFixed(2) : ''} | ${r.maxRssMB.toFixed(0)} MB |`,
  );
}
console.log(`\nmemcpy: ${mem.rwGBs.toFixed(2)} GB/s (read + written; ${mem.copyGBs.toFixed(2)} GB/s copied)\n`);
console.log(rows.join('\n'));

const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
console.log('\ntargets (issue 18):');
for (const dtype of dtypes) {
  const torchTa = find(dtype, 'torch', 'task_arithmetic');
  const cpuTa = find(dtype, 'cpu', 'task_arithmetic');
  const cpuTies = find(dtype, 'cpu', 'ties');
  const gpuTa = find(dtype, 'webgpu', 'task_arithmetic');
  if (cpuTa && torchTa) {
    const x = gbs(cpuTa) / gbs(torchTa);
    console.log(`  ${dtype}: fast CPU TA ÷ PyTorch TA = ${x.toFixed(2)}× (target ≥ 2×: ${verdict(x >= 2)})`);
  }
  if (cpuTa && cpuTies) {
    const x = cpuTies.ms / cpuTa.ms;
    console.log(`  ${dtype}: fast CPU TIES time ÷ its TA time = ${x.toFixed(2)} (target ≤ 3: ${verdict(x <= 3)})`);
  }
  if (gpuTa && torchTa) {
    const x = gbs(gpuTa) / gbs(torchTa);
    console.log(
      `  ${dtype}: WebGPU (lavapipe) TA ÷ PyTorch TA = ${x.toFixed(2)}× (target ≥ 1.5×: ${verdict(x >= 1.5)})`,
    );
  }
  for (const engine of ['cpu', 'webgpu']) {
    const own = runs.filter((r) => r.dtype === dtype && r.engine === engine);
    if (own.length === 0) continue;
    const peak = Math.max(...own.map((r) => r.maxRssMB));
    console.log(
      `  ${dtype}: ${engineLabel[engine]} peak RSS ${peak.toFixed(0)} MB (target ≤ 600 MB: ${verdict(peak <= 600)})`,
    );
  }
}
console.log(
  `\nload average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores)`,
);
save();
