// Sens-Merging calibration on the demo models: the statistics file's numbers are the mean of the
// per-sample passes over the samples it records (anyone can recompute them), layer groups sum
// their tensors, logit distances are recorded, and bad input is refused with typed errors.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { AbortError } from '../../src/core/errors';
import {
  CalibrationTextError,
  chooseExamples,
  referenceExamples,
  responseExamples,
} from '../../src/core/sens/calibration-text';
import { runsToJson } from '../../src/core/eval/report';
import type { EvalRun } from '../../src/core/eval/run';
import { type SensStatsError, checkStatsFor, parseSensStats, sensGroup } from '../../src/core/sens/stats';
import { sensCalibrate } from '../../src/infer/sens/calibrate';
import { sensitivityPass } from '../../src/infer/sens/pass';
import { SensWeights } from '../../src/infer/sens/weights';
import { FsModelFolder } from '../../src/node/fs-folder';

const SET = 'public/data/arith-heldout.jsonl';
const setText = readFileSync(SET, 'utf8');
const examples = chooseExamples(referenceExamples(setText, 'arith-heldout.jsonl', 'short'), 2, 5);
const base = { text: 'reference', answers: 'short', seed: 5, maxTokens: null } as const;
const tmp = mkdtempSync(path.join(tmpdir(), 'sens-cal-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('sensitivity calibration', () => {
  it('records samples whose passes reproduce its numbers, and the distance to another model', async () => {
    const folder = new FsModelFolder('public/models/demo-slow');
    const other = new FsModelFolder('public/models/demo-quick');
    const stats = parseSensStats(
      JSON.stringify(await sensCalibrate(folder, examples, 'arith-heldout.jsonl', { ...base, compare: [other] })),
      'stats.json',
    );
    expect(stats.samples).toHaveLength(2);
    expect(examples[0]!.answer).toMatch(/The answer is \d+\.$/);
    expect(Object.keys(stats.layers).sort()).toEqual(
      ['lm_head', 'model.embed_tokens', 'model.norm', ...[0, 1, 2, 3].map((l) => `model.layers.${l}`)].sort(),
    );
    expect(stats.readings.sensitivity).toMatch(/element-wise/);
    expect(stats.logitDistances['demo-quick']).toBeGreaterThan(0);
    const weights = new SensWeights(await Checkpoint.open(folder, { requireConfig: true }));
    const mean = new Map<string, number>();
    for (const s of stats.samples) {
      expect(s.targets).toEqual(s.ids.map((_, k) => k).slice(1));
      for (const [name, v] of (await sensitivityPass(weights, s)).tensors)
        mean.set(name, (mean.get(name) ?? 0) + v.abs / stats.samples.length);
    }
    for (const [name, v] of mean) expect(stats.tensors[name]!.elementwise).toBeCloseTo(v, 10);
    const layer0 = Object.entries(stats.tensors).filter(([n]) => sensGroup(n) === 'model.layers.0');
    expect(layer0).toHaveLength(12);
    expect(stats.layers['model.layers.0']!.elementwise).toBeCloseTo(
      layer0.reduce((a, [, v]) => a + v.elementwise, 0),
      10,
    );
    await Promise.all([folder.close(), other.close()]);

    // Statistics from another model, or with a layer missing, are refused naming the layer.
    const ckpt = weights.ckpt;
    const target = { name: 'demo-slow', layers: 4, hidden: 192, vocab: 582, tensors: [...ckpt.tensors.keys()] };
    expect(() => checkStatsFor(stats, 'stats.json', target)).not.toThrow();
    const wrong = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return e as SensStatsError;
      }
      throw new Error('not refused');
    };
    expect(wrong(() => checkStatsFor(stats, 'stats.json', { ...target, name: 'demo-quick' })).code).toBe(
      'sens-wrong-model',
    );
    const { ['model.layers.2']: _gone, ...rest } = stats.layers;
    const e = wrong(() => checkStatsFor({ ...stats, layers: rest }, 'stats.json', target));
    expect(e.code).toBe('sens-missing-layer');
    expect(e.message).toMatch(/layer 'model\.layers\.2'/);
    expect(e.tensor).toMatch(/^model\.layers\.2\./);
  }, 120_000);

  it('a set with no usable target tokens, or no long answers, is a typed error', async () => {
    const folder = new FsModelFolder('public/models/demo-slow');
    const err = await sensCalibrate(folder, examples, 'arith', { ...base, maxTokens: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CalibrationTextError);
    expect((err as CalibrationTextError).code).toBe('no-target-tokens');
    const long = (() => {
      try {
        referenceExamples(setText, 'arith', 'long');
      } catch (e) {
        return e as CalibrationTextError;
      }
    })();
    expect(long?.code).toBe('no-calibration-text');
    await folder.close();
  });

  it("takes long answers from a model's responses in an eval results file", () => {
    const response = (problemId: string, text: string) => ({ problemId, text, tokens: 3, hitLimit: false });
    const run = {
      set: { name: 'arith', problems: 2, fewShotHeldOut: 0 },
      maxNewTokens: 300,
      ms: 1,
      models: [
        { name: 'demo-quick', responses: [response('a#1', 'The answer is 4.')] },
        { name: 'demo-slow', responses: [response('a#1', 'long 1, wait, 4'), response('a#9', 'not in the set')] },
      ],
    } as unknown as EvalRun;
    const questions = new Map([['a#1', 'What is 2 + 2?']]);
    expect(responseExamples(runsToJson([run]), 'r.json', 'demo-slow', questions)).toEqual([
      { id: 'a#1', question: 'What is 2 + 2?', answer: 'long 1, wait, 4' },
    ]);
    expect(() => responseExamples(runsToJson([run]), 'r.json', 'other', questions)).toThrow(CalibrationTextError);
  });

  it('cancels with an AbortError', async () => {
    const folder = new FsModelFolder('public/models/demo-slow');
    const ac = new AbortController();
    const p = sensCalibrate(folder, examples, 'arith', {
      ...base,
      signal: ac.signal,
      onProgress: () => ac.abort(),
    });
    await expect(p).rejects.toBeInstanceOf(AbortError);
    await folder.close();
  }, 60_000);

  it('merge-lab sensitivity writes the statistics file', { timeout: 120_000 }, async () => {
    const out = path.join(tmp, 'slow.json');
    const bin = path.resolve('bin/merge-lab.mjs');
    const args = ['sensitivity', '--model', 'public/models/demo-slow', '--set', SET, '--samples', '1', '--out', out];
    const r = await promisify(execFile)('node', [bin, ...args]);
    expect(r.stdout).toMatch(/7 layer groups, 1 samples/);
    const stats = parseSensStats(readFileSync(out, 'utf8'), out);
    expect(stats.model).toBe('demo-slow');
    expect(stats.calibration).toMatchObject({ answers: 'short', text: 'reference', samples: 1, seed: 1 });
  });
});
