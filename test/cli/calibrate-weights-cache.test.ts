/**
 * `merge-lab calibrate --weights-cache` (the same flag as generate's): the first run packs the q4
 * weights into the cache (one entry, `<content key>.q4-32`), the second reuses them without packing
 * again, and both give the statistics of a run without the cache, value for value; altering the
 * cached bytes changes the statistics (the run really reads them).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointKey } from '../../src/node/weights-cache';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const QUICK = 'public/models/demo-quick';
const SET = 'public/data/arith-heldout.jsonl';
const tmp = mkdtempSync(path.join(tmpdir(), 'merge-lab-calcache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function calibrate(out: string, extra: string[]): Promise<unknown> {
  const args = ['calibrate', '--model', QUICK, '--set', SET, '--samples', '2', '--weights', 'q4', '--out', out];
  await run('node', [BIN, ...args, ...extra]);
  return JSON.parse(readFileSync(out, 'utf8'));
}

describe('merge-lab calibrate --weights-cache', () => {
  it('packs once into the cache, reuses it, and calibrates as without it', { timeout: 180_000 }, async () => {
    const root = path.join(tmp, 'cache');
    const first = await calibrate(path.join(tmp, 'a.json'), ['--weights-cache', root]);
    expect(readdirSync(root)).toEqual([`${await checkpointKey(QUICK)}.q4-32`]);
    const bin = path.join(root, readdirSync(root)[0]!, 'merge-lab.weights.0.bin');
    const written = statSync(bin).mtimeMs;
    const second = await calibrate(path.join(tmp, 'b.json'), ['--weights-cache', root]);
    expect(statSync(bin).mtimeMs).toBe(written); // not packed again
    expect(readdirSync(root)).toHaveLength(1);
    const uncached = await calibrate(path.join(tmp, 'c.json'), []);
    expect(second).toEqual(first);
    expect(first).toEqual(uncached);
    // The run reads its weights from the cache entry: altered packed bytes (same size) change the statistics.
    const bytes = readFileSync(bin);
    for (let i = 0; i < bytes.length; i += 7) bytes[i] = 0x88;
    writeFileSync(bin, bytes);
    expect(await calibrate(path.join(tmp, 'd.json'), ['--weights-cache', root])).not.toEqual(first);
  });

  it('the usage names the flag', async () => {
    const err = await run('node', [BIN, 'calibrate', '--model', QUICK]).catch((e: { stderr: string }) => e);
    expect((err as { stderr: string }).stderr).toMatch(/\[--weights-cache DIR\|default\]/);
  });
});
