// The CPU twin's backward pass against PyTorch autograd (float64; goldens from
// tools/sens/make-goldens.ts): loss, per-tensor Σ|θ⊙g| and Σθ⊙g, and raw gradient samples, within
// 1e-4 relative, on the demo models (f32, untied) and a generated head_dim-128 checkpoint (bf16, tied).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { sensitivityPass } from '../../src/infer/sens/pass';
import { SensWeights } from '../../src/infer/sens/weights';
import { FsModelFolder } from '../../src/node/fs-folder';
import type { SensGolden } from '../../tools/sens/make-goldens';
import { writeRandomQwen } from '../../tools/random-qwen';

const REL = 1e-4;
const tmp = mkdtempSync(path.join(tmpdir(), 'sens-parity-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** |a − b| ≤ REL·scale, where scale is |b| or, for a signed sum that may cancel, its Σ|·|. */
function close(a: number, b: number, scale = Math.abs(b)): boolean {
  return Math.abs(a - b) <= REL * scale + 1e-300;
}

async function modelDir(g: SensGolden): Promise<string> {
  if ('dir' in g.source) return path.resolve(g.source.dir);
  const dir = path.join(tmp, g.model);
  await writeRandomQwen(dir, g.source.randomQwen);
  return dir;
}

describe.each(['demo-quick', 'demo-slow', 'hd128'])('gradient parity with PyTorch: %s', (name) => {
  const golden = JSON.parse(readFileSync(`test/golden/sens-${name}.json`, 'utf8')) as SensGolden;

  it.each(golden.samples.map((s, i) => [i, s] as const))('sample %i', async (i, sample) => {
    const folder = new FsModelFolder(await modelDir(golden));
    try {
      const weights = new SensWeights(await Checkpoint.open(folder, { requireConfig: true }));
      const probes = new Map(Object.entries(golden.probes));
      const got = await sensitivityPass(weights, sample, { probes });
      const want = golden.results[i]!;
      expect(close(got.loss, want.loss), `loss ${got.loss} vs ${want.loss}`).toBe(true);
      expect([...got.tensors.keys()].sort()).toEqual(Object.keys(want.tensors).sort());
      let checked = 0;
      for (const [tensor, w] of Object.entries(want.tensors)) {
        const g = got.tensors.get(tensor)!;
        expect(close(g.abs, w.abs), `${tensor} Σ|θg| ${g.abs} vs ${w.abs}`).toBe(true);
        expect(close(g.signed, w.signed, w.abs), `${tensor} Σθg ${g.signed} vs ${w.signed}`).toBe(true);
        expect(w.abs).toBeGreaterThan(0);
        checked++;
      }
      for (const [tensor, values] of Object.entries(want.gradients)) {
        const g = got.gradients.get(tensor)!;
        values.forEach((v, k) =>
          expect(close(g[k]!, v), `${tensor}[${golden.probes[tensor]![k]}] ${g[k]} vs ${v}`).toBe(true),
        );
      }
      expect(checked).toBe(Object.keys(want.tensors).length);
    } finally {
      await folder.close();
    }
  });
});
