/**
 * A model whose generation never emits EOS (a real demo model with its EOS logit made unreachable,
 * never-eos-model.ts): `merge-lab eval` stops every answer at --max-new-tokens, the run completes,
 * each record says it hit the limit and why (`stop`), and the metrics count the hits and the capped
 * lengths like any others.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ResponseRecord } from '../../src/core/eval/metrics';
import { type EvalRun, completionEnd } from '../../src/core/eval/run';
import { writeNeverEosModel } from './never-eos-model';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');

describe('a model that never emits EOS', () => {
  it('eval: every answer stops at the token limit, recorded as such; the run completes and counts them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-never-eos-'));
    const model = path.join(dir, 'never-eos');
    await writeNeverEosModel('public/models/demo-quick', model);
    const set = path.join(dir, 'two.jsonl');
    writeFileSync(set, readFileSync('public/data/arith-heldout.jsonl', 'utf8').split('\n').slice(0, 2).join('\n'));
    const json = path.join(dir, 'out.json');
    const { stdout } = await run('node', [
      BIN,
      'eval',
      '--models',
      `${model},public/models/demo-quick`,
      '--set',
      set,
      '--max-new-tokens',
      '32',
      '--json',
      json,
    ]);
    expect(stdout).toMatch(/^never-eos\s.*\s2$/m); // the table's last column: hit limit
    const runs = (JSON.parse(readFileSync(json, 'utf8')) as { runs: EvalRun[] }).runs;
    const [neverEos, quick] = runs[0]!.models;
    expect(neverEos!.responses.map((r: ResponseRecord) => [r.tokens, r.hitLimit, r.stop])).toEqual([
      [32, true, 'max-new-tokens'],
      [32, true, 'max-new-tokens'],
    ]);
    expect(neverEos!.metrics).toMatchObject({ n: 2, hitLimit: 2, meanTokens: 32, totalTokens: 64 });
    // The same model with its EOS intact ends its answers itself, well before the limit.
    expect(quick!.responses.every((r: ResponseRecord) => r.stop === 'eos' && !r.hitLimit && r.tokens < 32)).toBe(true);
    expect(quick!.metrics.hitLimit).toBe(0);
    // The answer stated before the limit is still scored.
    expect(neverEos!.responses.map((r) => r.extracted)).toEqual(quick!.responses.map((r) => r.extracted));
  }, 60_000);

  it('an answer cut by the context is a limit hit too', () => {
    expect(completionEnd('context')).toEqual({ hitLimit: true, stop: 'context' });
    expect(completionEnd('max-new-tokens').hitLimit).toBe(true);
    expect(completionEnd('eos').hitLimit).toBe(false);
    expect(completionEnd('stop-string').hitLimit).toBe(false);
  });
});
