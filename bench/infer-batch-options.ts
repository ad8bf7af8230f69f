/**
 * ORT session options side by side on the batched graph (issue 17: what makes the wasm B = 8 step
 * faster with the same greedy ids). Each variant runs in its own process (two 0.5B sessions do not
 * fit one wasm heap): the batched session on the wasm EP with the variant's options merged into
 * InferenceSession.create, then the B-row step on an empty cache (the matrix products, lm_head
 * included; least of --reps, wall clock and CPU time), then a greedy run of --new-tokens. The parent
 * prints one row per variant: its step against the default's, and whether its logits and greedy ids
 * are the default's (bit for bit; else the largest logit difference).
 *   npx tsx bench/infer-batch-options.ts [--model DIR] [--batch 8] [--threads 1] [--reps 5] [--new-tokens 8]
 *     [--variants default,basic,extended,no-prepack,spin,no-spin]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Checkpoint } from '../src/core/formats/checkpoint';
import { batchGenerate } from '../src/infer/batch-generate';
import { BatchLM } from '../src/infer/batch-model';
import type { OrtModule } from '../src/infer/runtime';
import { nodeRuntimeAdapter } from '../src/node/ort-adapter';
import { FsModelFolder } from '../src/node/fs-folder';

/** Session options merged into onnxruntime-web's InferenceSession.create, per variant. */
const VARIANTS: Record<string, Record<string, unknown>> = {
  default: {},
  basic: { graphOptimizationLevel: 'basic' },
  extended: { graphOptimizationLevel: 'extended' },
  'no-prepack': { extra: { session: { disable_prepacking: '1' } } },
  spin: { extra: { session: { intra_op: { allow_spinning: '1' } } } },
  'no-spin': { extra: { session: { intra_op: { allow_spinning: '0' } } } },
  'no-arena': { enableCpuMemArena: false, enableMemPattern: false },
};

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: path.resolve(import.meta.dirname, '.data/qwen2.5-0.5b-random') },
    batch: { type: 'string', default: '8' },
    threads: { type: 'string', default: '1' },
    reps: { type: 'string', default: '5' },
    'new-tokens': { type: 'string', default: '8' },
    variants: { type: 'string', default: 'default,basic,extended,no-prepack,spin,no-spin' },
    child: { type: 'string' },
    out: { type: 'string' },
  },
});
const B = Number(values.batch);
const cpuS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** B distinct prompts of 16 ids (as bench:batch makes them). */
const prompts = (vocab: number) =>
  Array.from({ length: B }, (_, b) =>
    Array.from({ length: 16 }, (_, i) => (i * 7919 + 13 + b * 104729) % Math.min(vocab, 151000)),
  );

interface ChildResult {
  variant: string;
  loadS: number;
  stepMs: number;
  stepCpuMs: number;
  ids: number[][];
}

async function child(variant: string, out: string): Promise<void> {
  const extra = VARIANTS[variant]!;
  const node = nodeRuntimeAdapter({ threads: Number(values.threads) });
  const adapter = {
    ...node,
    loadOrt: async (ep: 'wasm' | 'webgpu') => {
      const ort = await node.loadOrt!(ep);
      const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (...a: unknown[]) => unknown;
      const patched = (model: unknown, opts: Record<string, unknown>) => create(model, { ...opts, ...extra });
      return { ...ort, InferenceSession: { ...ort.InferenceSession, create: patched } } as unknown as OrtModule;
    },
  };
  const t0 = performance.now();
  const lm = await BatchLM.fromCheckpoint(await Checkpoint.open(new FsModelFolder(values.model!)), {
    ep: 'wasm',
    adapter,
    weights: 'f32',
    batchSize: B,
  });
  const loadS = (performance.now() - t0) / 1000;
  const ps = prompts(lm.spec.vocab);
  let best = { wall: Infinity, cpu: Infinity };
  let logits: Float32Array | undefined;
  for (let i = 0; i < Number(values.reps) + 1; i++) {
    const [w, c] = [performance.now(), cpuS()];
    const r = await lm.forward(
      ps.map((p) => [p[0]!]),
      lm.emptyCache(B),
    );
    if (i === 0) continue; // warm-up
    best = { wall: Math.min(best.wall, performance.now() - w), cpu: Math.min(best.cpu, (cpuS() - c) * 1000) };
    logits = r.logits;
  }
  const g = await batchGenerate(lm, ps, { maxNewTokens: Number(values['new-tokens']), batchSize: B });
  writeFileSync(`${out}.logits`, new Uint8Array(logits!.buffer, logits!.byteOffset, logits!.byteLength));
  const result: ChildResult = {
    variant,
    loadS,
    stepMs: best.wall,
    stepCpuMs: best.cpu,
    ids: g.results.map((x) => x.ids),
  };
  writeFileSync(out, JSON.stringify(result));
  await lm.release();
}

if (values.child) await child(values.child, values.out!);
else {
  const rows: (ChildResult & { logits: Float32Array })[] = [];
  for (const variant of values.variants!.split(',')) {
    if (!VARIANTS[variant]) throw new Error(`unknown variant ${variant}: ${Object.keys(VARIANTS).join(', ')}`);
    const out = path.join(os.tmpdir(), `infer-batch-options-${process.pid}-${variant}.json`);
    const load = os.loadavg()[0]!.toFixed(1);
    process.stderr.write(`${variant} (load average ${load})\n`);
    execFileSync(
      process.execPath,
      ['--import', 'tsx', import.meta.filename, ...process.argv.slice(2), '--child', variant, '--out', out],
      {
        stdio: 'inherit',
      },
    );
    const r = JSON.parse(readFileSync(out, 'utf8')) as ChildResult;
    const bytes = readFileSync(`${out}.logits`);
    rows.push({ ...r, logits: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) });
  }
  const base = rows[0]!;
  console.log(
    `\n${path.basename(values.model!)}, B = ${B}, ${values.threads} thread(s), the ${B}-row step on an empty cache (least of ${values.reps}; wall ms, CPU ms in brackets), load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} at the end\n`,
  );
  console.log(
    `| variant | step ms (CPU ms) | ÷ ${base.variant} | logits = ${base.variant} | greedy ids = ${base.variant} | load s |`,
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    let maxDiff = 0;
    r.logits.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - base.logits[i]!))));
    const sameIds = JSON.stringify(r.ids) === JSON.stringify(base.ids);
    console.log(
      `| ${r.variant} | ${r.stepMs.toFixed(0)} (${r.stepCpuMs.toFixed(0)}) | ${(r.stepMs / base.stepMs).toFixed(2)}× (${(r.stepCpuMs / base.stepCpuMs).toFixed(2)}×) | ${maxDiff === 0 ? 'bit for bit' : `max |Δ| ${maxDiff.toExponential(1)}`} | ${sameIds ? 'yes' : 'NO'} | ${r.loadS.toFixed(1)} |`,
    );
  }
}
