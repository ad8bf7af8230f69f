/**
 * `merge-lab calibrate --batch`: by default the memory plan's batch (said on stderr) runs the
 * calibration examples through the batched graph with the statistics of `--batch 1`; a batch that
 * is not a positive integer is a usage error.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const ARGS = ['calibrate', '--model', 'public/models/demo-quick', '--set', 'public/data/arith-heldout.jsonl'];
const tmp = mkdtempSync(path.join(tmpdir(), 'merge-lab-calbatch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Stats = { channels: Record<string, number[]>; calibration: unknown };

describe('merge-lab calibrate --batch', () => {
  it('auto (the default) says its batch and gives the statistics of --batch 1', { timeout: 120_000 }, async () => {
    const auto = await run('node', [BIN, ...ARGS, '--samples', '3', '--out', path.join(tmp, 'auto.json')]);
    expect(auto.stderr).toMatch(/batch 3 \(the memory plan's largest up to 8; --batch N to choose\)/);
    await run('node', [BIN, ...ARGS, '--samples', '3', '--batch', '1', '--out', path.join(tmp, 'one.json')]);
    const a = JSON.parse(readFileSync(path.join(tmp, 'auto.json'), 'utf8')) as Stats;
    const b = JSON.parse(readFileSync(path.join(tmp, 'one.json'), 'utf8')) as Stats;
    expect(a.calibration).toEqual(b.calibration);
    for (const [w, ref] of Object.entries(b.channels))
      ref.forEach((r, j) => expect(Math.abs(a.channels[w]![j]! - r)).toBeLessThanOrEqual(1e-5 * Math.max(1, r)));
  });

  it.each(['0', '2.5', 'many'])('--batch %s is a usage error', async (bad) => {
    const err = (await run('node', [BIN, ...ARGS, '--batch', bad]).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    expect(err.code).toBe(2);
    expect(err.stderr).toContain(`--batch must be a positive integer (got '${bad}')`);
  });
});
