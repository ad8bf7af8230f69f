/**
 * `npm run bench:merge`: merges three Qwen2.5-0.5B-shaped f16 checkpoints (~1 GB each, made by
 * gen-qwen-checkpoints.ts on first run) with TA, TIES and DARE-TIES on the WebGPU backend
 * (Dawn on lavapipe here) and on the CPU reference, each merge in its own process, and prints:
 * GB/s (bytes read + written), the ratio to this machine's memcpy bandwidth (measured in the
 * same run, also as bytes read + written), the GPU/CPU speed ratio, TIES ÷ TA time, peak RSS,
 * and where the time goes (wall time awaiting each backend call).
 *   npm run bench:merge [-- --cpu-tensors N] [--methods ta,ties,dare_ties] [--backends webgpu,cpu] [--chunk N]
 * --cpu-tensors N runs the CPU reference on the first N tensors only (it is slow); GB/s stays comparable.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DATA = path.join(HERE, '.data');
const { values } = parseArgs({
  options: {
    methods: { type: 'string', default: 'task_arithmetic,ties,dare_ties' },
    backends: { type: 'string', default: 'webgpu,cpu' },
    'cpu-tensors': { type: 'string' },
    chunk: { type: 'string' },
  },
});

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

interface Run {
  backend: string;
  method: string;
  tensors: number;
  ms: number;
  bytesRead: number;
  bytesWritten: number;
  maxRssMB: number;
  phaseMs: Record<string, number>;
  gpu?: { peakPoolMB: number; submits: number; dispatches: number };
}

if (!existsSync(path.join(DATA, 'qwen-ft2', 'model.safetensors'))) {
  mkdirSync(DATA, { recursive: true });
  console.log('generating the Qwen2.5-0.5B-shaped checkpoints (first run only)…');
  execFileSync(process.execPath, ['--import', 'tsx', path.join(HERE, 'gen-qwen-checkpoints.ts')], { stdio: 'inherit' });
}

const mem = memcpyGBs();
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; memcpy ${mem.copyGBs.toFixed(2)} GB/s copied = ${mem.rwGBs.toFixed(2)} GB/s read + written`,
);

const runs: Run[] = [];
for (const backend of values.backends!.split(',')) {
  for (const method of values.methods!.split(',')) {
    const args = ['--import', 'tsx', path.join(HERE, 'merge-run.ts'), '--backend', backend, '--method', method];
    if (values.chunk) args.push('--chunk', values.chunk);
    if (backend === 'cpu' && values['cpu-tensors']) args.push('--tensors', values['cpu-tensors']);
    process.stdout.write(`${backend} ${method} … `);
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      console.log(
        `FAILED (exit ${r.status})\n${r.stderr
          .split('\n')
          .filter((l) => !l.startsWith('Warning:'))
          .slice(-15)
          .join('\n')}`,
      );
      continue;
    }
    const run = JSON.parse(line) as Run;
    run.backend = backend;
    runs.push(run);
    writeFileSync(path.join(DATA, 'results.json'), JSON.stringify({ memcpy: mem, runs }, null, 2)); // kept if interrupted
    const gbs = (run.bytesRead + run.bytesWritten) / 1e9 / (run.ms / 1000);
    console.log(`${(run.ms / 1000).toFixed(1)} s, ${gbs.toFixed(2)} GB/s, peak RSS ${run.maxRssMB.toFixed(0)} MB`);
  }
}

const gbs = (r: Run) => (r.bytesRead + r.bytesWritten) / 1e9 / (r.ms / 1000);
const find = (b: string, m: string) => runs.find((r) => r.backend === b && r.method === m);
const label: Record<string, string> = { task_arithmetic: 'TA', ties: 'TIES', dare_ties: 'DARE-TIES' };
const rows: string[] = [];
rows.push(
  '| backend | method | tensors | time | GB/s (read+written) | % of memcpy | GPU/CPU speed | ÷ TA time | peak RSS |',
);
rows.push('|---|---|---|---|---|---|---|---|---|');
for (const r of runs) {
  const cpu = find('cpu', r.method);
  const ta = find(r.backend, 'task_arithmetic');
  const ratio = r.backend !== 'cpu' && cpu ? `${(gbs(r) / gbs(cpu)).toFixed(2)}×` : '';
  const vsTa = ta && r.tensors === ta.tensors ? `${(r.ms / ta.ms).toFixed(2)}` : '';
  rows.push(
    `| ${r.backend} | ${label[r.method] ?? r.method} | ${r.tensors} | ${(r.ms / 1000).toFixed(1)} s | ${gbs(r).toFixed(2)} | ${((100 * gbs(r)) / mem.rwGBs).toFixed(1)}% | ${ratio} | ${vsTa} | ${r.maxRssMB.toFixed(0)} MB |`,
  );
}
console.log(`\nmemcpy: ${mem.rwGBs.toFixed(2)} GB/s (read + written; ${mem.copyGBs.toFixed(2)} GB/s copied)\n`);
console.log(rows.join('\n'));
console.log(
  '\nwhere the time goes (s awaiting each backend call; the rest is reading/writing files and the executor):',
);
for (const r of runs) {
  const parts = Object.entries(r.phaseMs)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`);
  const inBackend = Object.values(r.phaseMs).reduce((a, b) => a + b, 0);
  console.log(
    `  ${r.backend} ${label[r.method] ?? r.method}: ${parts.join(', ')}; outside the backend ${((r.ms - inBackend) / 1000).toFixed(1)}${r.gpu ? `; GPU pool peak ${r.gpu.peakPoolMB.toFixed(0)} MiB, ${r.gpu.dispatches} dispatches` : ''}`,
  );
}
writeFileSync(path.join(DATA, 'results.json'), JSON.stringify({ memcpy: mem, runs }, null, 2));
