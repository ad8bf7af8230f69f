/**
 * Writes the gradient-parity goldens test/golden/sens-*.json: for the demo models and a tiny
 * generated checkpoint with head_dim 128 (bf16, tied head), a few calibration samples and probe
 * indices go to tools/sens/torch_sensitivity.py (PyTorch autograd, float64), and its per-tensor
 * sensitivities, losses and raw gradients are stored with the request, for test/sens to compare.
 *
 *   npx tsx tools/sens/make-goldens.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { numel } from '../../src/core/formats/safetensors';
import { FsModelFolder } from '../../src/node/fs-folder';
import { type RandomQwenOptions, writeRandomQwen, xorshift32 } from '../random-qwen';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The generated checkpoint: head_dim 128, GQA 2:1, q/k/v biases, tied head, bf16. */
export const HEAD_DIM_128: RandomQwenOptions = {
  shape: { layers: 2, hidden: 256, intermediate: 96, heads: 2, kvHeads: 1, vocab: 320, tied: true, maxPositions: 512 },
  dtype: 'BF16',
  seed: 7,
};

export interface SensGolden {
  model: string;
  /** Where the model comes from: a folder under the repo, or writeRandomQwen's options. */
  source: { dir: string } | { randomQwen: RandomQwenOptions };
  samples: { ids: number[]; targets: number[] }[];
  probes: Record<string, number[]>;
  torch: string;
  results: {
    loss: number;
    tensors: Record<string, { abs: number; signed: number }>;
    gradients: Record<string, number[]>;
  }[];
}

function samplesFor(vocab: number, seed: number): { ids: number[]; targets: number[] }[] {
  const next = xorshift32(seed);
  const ids = (n: number) => Array.from({ length: n }, () => next() % vocab);
  const a = ids(24);
  const b = ids(17);
  return [
    { ids: a, targets: Array.from({ length: 14 }, (_, i) => 10 + i) }, // an "answer" span
    { ids: b, targets: Array.from({ length: 16 }, (_, i) => 1 + i) }, // every token
  ];
}

function probesFor(ckpt: Checkpoint, firstIds: number[]): Record<string, number[]> {
  const probes: Record<string, number[]> = {};
  for (const t of ckpt.tensors.values()) {
    const n = numel(t.shape);
    const idx = [0, Math.floor(n / 3), n - 1];
    if (t.name === 'model.embed_tokens.weight' || t.name === 'lm_head.weight')
      idx.push(firstIds[3]! * t.shape[1]! + 5, firstIds[12]! * t.shape[1]! + 1);
    probes[t.name] = idx;
  }
  return probes;
}

async function golden(name: string, dir: string, source: SensGolden['source'], seed: number): Promise<void> {
  const folder = new FsModelFolder(dir);
  const ckpt = await Checkpoint.open(folder, { requireConfig: true });
  const samples = samplesFor(ckpt.config!.vocabSize, seed);
  const probes = probesFor(ckpt, samples[0]!.ids);
  await folder.close();
  const tmp = mkdtempSync(path.join(tmpdir(), 'sens-golden-'));
  const req = path.join(tmp, 'request.json');
  const out = path.join(tmp, 'out.json');
  writeFileSync(req, JSON.stringify({ model_dir: dir, samples, probes }));
  execFileSync('/usr/bin/python3', [path.join(ROOT, 'tools/sens/torch_sensitivity.py'), req, out], {
    stdio: 'inherit',
  });
  const res = JSON.parse(readFileSync(out, 'utf8')) as { torch: string; samples: SensGolden['results'] };
  const doc: SensGolden = { model: name, source, samples, probes, torch: res.torch, results: res.samples };
  const file = path.join(ROOT, `test/golden/sens-${name}.json`);
  writeFileSync(file, JSON.stringify(doc) + '\n');
  console.log(
    `${path.relative(ROOT, file)}: ${samples.length} samples, losses ${res.samples.map((s) => s.loss.toFixed(4))}`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [i, name] of ['demo-quick', 'demo-slow'].entries())
    await golden(name, path.join(ROOT, 'public/models', name), { dir: `public/models/${name}` }, 101 + i);
  const gen = path.join(mkdtempSync(path.join(tmpdir(), 'sens-hd128-')), 'hd128');
  await writeRandomQwen(gen, HEAD_DIM_128);
  await golden('hd128', gen, { randomQwen: HEAD_DIM_128 }, 103);
}
