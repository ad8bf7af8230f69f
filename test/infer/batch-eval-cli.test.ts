/**
 * `merge-lab eval --batch N`: continuous batching gives every model the same responses as
 * `--batch 1` (greedy, token for token), records in the same order, and reports the batch's
 * aggregate tokens/s; a batch size that is not a positive integer is a usage error.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { EvalRun } from '../../src/core/eval/run';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const MODELS = 'public/models/demo-slow,public/models/demo-quick';
const SET = 'public/data/arith-heldout.jsonl';

describe('merge-lab eval --batch', () => {
  it('--batch 6 gives the responses of --batch 1 on 24 problems and two models', { timeout: 600_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-batch-'));
    const outputs: EvalRun[][] = [];
    const stderrs: string[] = [];
    for (const batch of ['1', '6']) {
      const json = path.join(dir, `b${batch}.json`);
      const args = ['--models', MODELS, '--set', SET, '--limit', '24', '--max-new-tokens', '200', '--json', json];
      const { stderr } = await run('node', [BIN, 'eval', ...args, '--batch', batch]);
      stderrs.push(stderr);
      outputs.push((JSON.parse(readFileSync(json, 'utf8')) as { runs: EvalRun[] }).runs);
    }
    const [one, six] = outputs as [EvalRun[], EvalRun[]];
    const models = (runs: EvalRun[]) => runs[0]!.models;
    expect(models(six).map((m) => m.name)).toEqual(['demo-slow', 'demo-quick']);
    models(one).forEach((m, i) => {
      const b = models(six)[i]!;
      expect(b.responses.map((r) => [r.problemId, r.text, r.tokens, r.hitLimit])).toEqual(
        m.responses.map((r) => [r.problemId, r.text, r.tokens, r.hitLimit]),
      );
      expect(b.metrics).toEqual(m.metrics);
      expect(m.tokPerS).toBeUndefined();
      expect(b.tokPerS).toBeGreaterThan(0);
    });
    expect(new Set(models(one)[0]!.responses.map((r) => r.tokens)).size).toBeGreaterThan(3);
    expect(stderrs[1]).toMatch(/24 problems × 2 models in .* \(batch 6, tok\/s: demo-slow \d+, demo-quick \d+\)/);
  });

  it('--threads 0 is a usage error', async () => {
    const err = await run('node', [BIN, 'eval', '--models', MODELS, '--set', SET, '--threads', '0']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain("--threads must be a positive integer (got '0')");
  });

  it.each(['0', '1.5', 'x', '-2'])('--batch %s is a usage error', async (batch) => {
    const err = await run('node', [BIN, 'eval', '--models', MODELS, '--set', SET, `--batch=${batch}`]).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(
      new RegExp(`--batch must be a positive integer \\(got '${batch.replace('.', '\\.')}'\\)`),
    );
  });
});

describe('merge-lab eval --batch auto (the default)', () => {
  it(
    'takes the memory plan’s largest batch up to 32, says so, and answers as --batch 1',
    { timeout: 600_000 },
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-batch-auto-'));
      const args = (json: string) => [
        '--models',
        'public/models/demo-quick',
        '--set',
        SET,
        '--limit',
        '10',
        '--json',
        json,
      ];
      const auto = await run('node', [BIN, 'eval', ...args(path.join(dir, 'auto.json'))]);
      expect(auto.stderr).toMatch(/demo-quick: batch 32 \(the memory plan's largest up to 32; --batch N to choose\)/);
      expect(auto.stderr).toMatch(/\(batch 32, tok\/s: demo-quick \d+\)/);
      // Two wasm threads at batch 1: the same answers (threads split work, not sums).
      await run('node', [BIN, 'eval', ...args(path.join(dir, 'one.json')), '--batch', '1', '--threads', '2']);
      const texts = (f: string) =>
        (JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { runs: EvalRun[] }).runs[0]!.models[0]!.responses.map(
          (r) => r.text,
        );
      expect(texts('auto.json')).toEqual(texts('one.json'));
    },
  );
});
