/** `merge-lab generate` end to end: the answer on stdout, the EP and timings on stderr, clean errors. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ChatModel } from '../../src/infer/engine';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { writeTinyModel } from '../helpers/checkpoints';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const DEMO = 'public/models/demo-base';
const PROMPT = 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';

describe('merge-lab generate', () => {
  it('streams the greedy answer to stdout (the same as the engine in-process) and timings to stderr', async () => {
    const { stdout, stderr } = await run('node', [
      BIN,
      'generate',
      '--model',
      DEMO,
      '--prompt',
      PROMPT,
      '--max-new-tokens',
      '12',
      '--ep',
      'wasm',
    ]);
    const model = await ChatModel.load(new FsModelFolder(DEMO), { ep: 'wasm', adapter: nodeRuntimeAdapter() });
    const expected = await model.ask(PROMPT, { maxNewTokens: 12 });
    await model.release();
    expect(stdout).toBe(`${expected.text}\n`);
    expect(stderr).toMatch(/ep: wasm: requested/);
    expect(stderr).toMatch(/prefill [\d.]+ tok\/s .*time to first token \d+ ms; \d+ new tokens, decode [\d.]+ tok\/s/);
  });

  it(
    "--ep webgpu finds the project's Vulkan driver with no VK_ICD_FILENAMES set (as on a fresh clone)",
    { timeout: 600_000 },
    async () => {
      const env = { ...process.env };
      delete env.VK_ICD_FILENAMES;
      const quick = 'public/models/demo-quick';
      const { stdout, stderr } = await run(
        'node',
        [BIN, 'generate', '--model', quick, '--prompt', PROMPT, '--max-new-tokens', '4', '--ep', 'webgpu'],
        { env },
      );
      expect(stderr).toMatch(/ep: webgpu \(.+\): requested/);
      const model = await ChatModel.load(new FsModelFolder(quick), { ep: 'wasm', adapter: nodeRuntimeAdapter() });
      const expected = await model.ask(PROMPT, { maxNewTokens: 4 });
      await model.release();
      expect(stdout).toBe(`${expected.text}\n`);
    },
  );

  it('reports an unsupported architecture with exit code 1 and no stack trace', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-gen-'));
    writeTinyModel(dir, { seed: 1, hidden: 16, intermediate: 24, vocab: 40 });
    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        architectures: ['PhiForCausalLM'],
        model_type: 'phi',
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        vocab_size: 40,
      }),
    );
    const err = await run('node', [BIN, 'generate', '--model', dir, '--prompt', 'hi', '--ep', 'wasm']).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(
      /merge-lab generate: InferError: architecture 'PhiForCausalLM' .* supported architectures: Qwen2ForCausalLM/,
    );
    expect(err.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects bad flags with usage errors', async () => {
    const err = await run('node', [BIN, 'generate', '--model', DEMO, '--prompt', 'x', '--ep', 'cuda']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/--ep must be auto, wasm or webgpu/);
  });
});
