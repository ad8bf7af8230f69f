/**
 * `merge-lab generate` and the memory plan: the plan's one line on stderr when loading, and a
 * budget that cannot fit refused with the plan's advice (exit code 1) before the weights are read.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const QUICK = 'public/models/demo-quick';
const PROMPT = 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';
const base = ['generate', '--model', QUICK, '--prompt', PROMPT, '--ep', 'wasm', '--weights', 'f32'];

describe('merge-lab generate: the memory plan', () => {
  it('prints the plan (format, weight bytes, KV cache bytes) to stderr when loading', async () => {
    const { stdout, stderr } = await run('node', [BIN, ...base, '--max-new-tokens', '4']);
    expect(stdout.length).toBeGreaterThan(1);
    expect(stderr).toMatch(/^plan: f32 on wasm: weights 7\.\d MB, KV cache [\d.]+ MB for [\d,]+ tokens, .*; fits$/m);
    expect(stderr).not.toMatch(/warning:/);
  });

  it('refuses a budget that cannot fit with the advice sentence and exit code 1; warns once past max positions', async () => {
    const err = await run('node', [BIN, ...base, '--max-new-tokens', '2000000']).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/^plan: f32 on wasm: .*; does not fit$/m);
    expect(err.stderr).toMatch(
      /merge-lab generate: InferError: demo-quick in f32 needs [\d.]+ GB for 2,000,\d+ tokens .*over wasm's 4 GiB heap; f32 fits with up to [\d,]+ tokens/,
    );
    expect(err.stderr.match(/warning: .*max_position_embeddings of 512/g)).toHaveLength(1);
    expect(err.stderr).not.toMatch(/\n\s+at /);
  });
});
