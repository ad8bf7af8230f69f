/**
 * `--kv-cache` and `--compute` on the CLI: generate says what ran in f16, an f16 cache gives the
 * f32 cache's greedy answer on the demo model, forcing f16 compute on wasm fails naming shader-f16,
 * and bad values are usage errors (exit 2) on every command that runs a model.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const QUICK = 'public/models/demo-quick';
const SET = 'public/data/arith-heldout.jsonl';
const PROMPT = 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';
const generate = (...extra: string[]) =>
  run('node', [
    BIN,
    'generate',
    '--model',
    QUICK,
    '--prompt',
    PROMPT,
    '--max-new-tokens',
    '12',
    '--ep',
    'wasm',
    ...extra,
  ]);

describe('merge-lab --kv-cache / --compute', () => {
  it('generate reports the KV cache and compute it used; an f16 cache answers as the f32 one', async () => {
    const f32 = await generate();
    expect(f32.stderr).toMatch(/; f32 compute, f32 KV cache\n/);
    const f16kv = await generate('--kv-cache', 'f16');
    expect(f16kv.stderr).toMatch(/; f32 compute, f16 KV cache\n/);
    expect(f16kv.stderr).toMatch(/^plan: f32 on wasm: .*KV cache [\d.]+ MB in f16 for/m);
    expect(f16kv.stdout).toBe(f32.stdout);
    // q4 weights default to an f16 cache; asked for, an f32 one
    expect((await generate('--weights', 'q4')).stderr).toMatch(/; f32 compute, f16 KV cache\n/);
    expect((await generate('--weights', 'q4', '--kv-cache', 'f32')).stderr).toMatch(/; f32 compute, f32 KV cache\n/);
  });

  it('--compute f16 on wasm fails before loading, naming shader-f16 (exit 1)', async () => {
    const err = await generate('--weights', 'f16', '--compute', 'f16').catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/InferError: f16 compute needs 'shader-f16': the wasm EP has no 'shader-f16'/);
    expect(err.stderr).not.toMatch(/^plan: /m); // refused before the memory plan, before any weight is read
  });

  const bad = [
    ['generate', '--model', QUICK, '--prompt', 'hi', '--kv-cache', 'f8'],
    ['generate', '--model', QUICK, '--prompt', 'hi', '--compute', 'bf16'],
    ['eval', '--models', QUICK, '--set', SET, '--kv-cache', 'int8'],
    ['calibrate', '--model', QUICK, '--set', SET, '--compute', 'fast'],
  ];
  it.each(bad.map((argv) => [argv.join(' '), argv] as const))('%s is a usage error', async (_, argv) => {
    const err = await run('node', [BIN, ...argv]).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/--(kv-cache must be f32, f16|compute must be auto, f32, f16) \(got '/);
  });
});
