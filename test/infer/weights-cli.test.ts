/** `--weights` / `--block-size` on the CLI: a q4 answer from generate, and usage errors for bad values. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ChatModel } from '../../src/infer/engine';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const QUICK = 'public/models/demo-quick';
const PROMPT = 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';

describe('merge-lab --weights', () => {
  it('generate --weights q4 answers with the q4 graph (the same text as the engine in-process)', async () => {
    const args = ['--model', QUICK, '--prompt', PROMPT, '--max-new-tokens', '8', '--ep', 'wasm', '--weights', 'q4'];
    const { stdout, stderr } = await run('node', [BIN, 'generate', ...args]);
    const model = await ChatModel.load(new FsModelFolder(QUICK), {
      ep: 'wasm',
      adapter: nodeRuntimeAdapter(),
      weights: 'q4',
    });
    const expected = await model.ask(PROMPT, { maxNewTokens: 8 });
    await model.release();
    expect(expected.text.length).toBeGreaterThan(0);
    expect(stdout).toBe(`${expected.text}\n`);
    expect(stderr).toMatch(/ep: wasm: requested; weights q4; loaded/);
  });

  it('eval --weights f16 and calibrate --weights q4 run on demo-quick', async () => {
    const set = 'public/data/arith-heldout.jsonl';
    const evalArgs = ['--models', QUICK, '--set', set, '--limit', '2', '--max-new-tokens', '16', '--weights', 'f16'];
    const { stdout } = await run('node', [BIN, 'eval', ...evalArgs]);
    expect(stdout).toMatch(/demo-quick\s+\d+\.\d/);
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'merge-lab-w-')), 'stats.json');
    const calArgs = [
      '--model',
      QUICK,
      '--set',
      set,
      '--samples',
      '2',
      '--out',
      out,
      '--weights',
      'q4',
      '--block-size',
      '64',
    ];
    await run('node', [BIN, 'calibrate', ...calArgs]);
    expect(Object.keys(JSON.parse(readFileSync(out, 'utf8')).channels)).toHaveLength(4 * 7);
  });

  it.each([
    [['generate', '--weights', 'q8'], /--weights must be f32, f16, q4 \(got 'q8'\)/],
    [['generate', '--weights', 'q4', '--block-size', '48'], /--block-size must be 32, 64, 128 \(got '48'\)/],
    [['generate', '--weights', 'f16', '--block-size', '64'], /--block-size applies to --weights q4 only/],
    [['eval', '--models', QUICK, '--set', 'public/data/arith-heldout.jsonl', '--weights', 'int4'], /--weights must be/],
    [
      ['calibrate', '--model', QUICK, '--set', 'public/data/arith-heldout.jsonl', '--weights', 'bf16'],
      /--weights must be/,
    ],
  ])('%j is a usage error', async (argv, message) => {
    const extra = argv[0] === 'generate' ? ['--model', QUICK, '--prompt', 'x'] : [];
    const err = await run('node', [BIN, ...argv, ...extra]).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(message);
  });

  it('a block size the shapes cannot use is an InferError naming the tensor (exit 1)', async () => {
    const argv = [
      'generate',
      '--model',
      QUICK,
      '--prompt',
      'x',
      '--ep',
      'wasm',
      '--weights',
      'q4',
      '--block-size',
      '128',
    ];
    const err = await run('node', [BIN, ...argv]).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/InferError: tensor 'model.embed_tokens.weight' .* not a multiple of 128/);
  });
});
