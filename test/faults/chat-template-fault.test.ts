/**
 * A chat template (tokenizer_config.json, untrusted) that fails on problem 7 of 12 during
 * `merge-lab eval`, by raising an exception or by rendering something enormous: the evaluation ends
 * with the renderer's InferError naming tokenizer_config.json (exit 1), and what finished is kept:
 * the other model's full run and the responses before problem 7, shown and written to --json with
 * `unfinished` saying why. Real demo models, the real renderer and its bounds, one at a time
 * (--batch 1) and batched (--batch 3, where every prompt is rendered before the first answer).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseProblemSet } from '../../src/core/eval/problem-set';
import { type CompletionModel, type EvalRun, evaluate, finishedBefore } from '../../src/core/eval/run';
import { InferError } from '../../src/infer/errors';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-template-fault-'));
const lines = readFileSync('public/data/arith-heldout.jsonl', 'utf8').split('\n').slice(0, 12);
const SET = path.join(dir, 'twelve.jsonl');
writeFileSync(SET, lines.join('\n'));
const SEVENTH = (JSON.parse(lines[6]!) as { question: string }).question;

/** demo-quick with `prefix` before its chat template, applied only when the user turn is problem 7. */
function modelWithTemplate(name: string, onSeventh: string): string {
  const to = path.join(dir, name);
  cpSync('public/models/demo-quick', to, { recursive: true });
  const file = path.join(to, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as { chat_template: string };
  config.chat_template = `{% if messages[-1]['content'] == "${SEVENTH}" %}${onSeventh}{% endif %}${config.chat_template}`;
  writeFileSync(file, JSON.stringify(config));
  return to;
}

async function evalFailing(models: string[], batch: number, json: string) {
  const args = [BIN, 'eval', '--models', models.join(','), '--set', SET, '--max-new-tokens', '24'];
  const err = await run('node', [...args, '--batch', String(batch), '--json', json]).catch((e) => e);
  expect(err.code).toBe(1);
  return { stdout: err.stdout as string, stderr: err.stderr as string, run: readRun(json) };
}
const readRun = (json: string) => (JSON.parse(readFileSync(json, 'utf8')) as { runs: EvalRun[] }).runs[0]!;

describe('a chat template that fails on problem 7 of 12 during eval', () => {
  it('raises: InferError naming tokenizer_config.json; the other model and problems 1–6 kept', async () => {
    const bad = modelWithTemplate('raising', "{{ raise_exception('problem 7 is refused') }}");
    const json = path.join(dir, 'raising.json');
    const { stdout, stderr, run: kept } = await evalFailing(['public/models/demo-quick', bad], 1, json);
    expect(stderr).toMatch(
      /merge-lab eval: InferError: raising\/tokenizer_config\.json: the chat_template failed \(raise_exception\("problem 7 is refused"\)\)/,
    );
    expect(stderr).toMatch(/stopped early; 18 finished responses kept in .*raising\.json/);
    expect(stdout).toMatch(/twelve\.jsonl, unfinished \(18 of 24 responses\)/);
    expect(stdout).toMatch(/^raising\s/m); // its finished rows are in the table
    const [quick, raising] = kept.models;
    expect(quick!.responses).toHaveLength(12);
    expect(raising!.responses.map((r) => r.problemId)).toEqual(quick!.responses.slice(0, 6).map((r) => r.problemId));
    expect(raising!.metrics.n).toBe(6);
    expect(kept.unfinished).toMatchObject({
      responses: 18,
      of: 24,
      reason: expect.stringMatching(/tokenizer_config\.json/),
    });
  }, 60_000);

  it('renders something enormous, batched: stopped by the renderer bound before any of its answers; the other model kept', async () => {
    // The question doubled 20 times: some 70 million characters.
    const doubling =
      "{% set ns = namespace(s=messages[-1]['content']) %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}";
    const bad = modelWithTemplate('enormous', doubling);
    const json = path.join(dir, 'enormous.json');
    const { stderr, run: kept } = await evalFailing(['public/models/demo-quick', bad], 3, json);
    expect(stderr).toMatch(
      /merge-lab eval: InferError: enormous\/tokenizer_config\.json: the chat_template was stopped: it builds a string of \d+, beyond 1000000/,
    );
    expect(stderr).toMatch(/stopped early; 12 finished responses kept/);
    // A batch renders every prompt before its first answer: the failure comes first, with nothing of this model to keep.
    expect(kept.models.map((m) => [m.name, m.responses.length])).toEqual([['demo-quick', 12]]);
    expect(kept.unfinished).toMatchObject({ responses: 12, of: 24 });
  }, 60_000);
});

describe('evaluate() stopped partway keeps what finished (finishedBefore)', () => {
  const set = parseProblemSet(
    ['1+1', '2+2', '3+3', '4+4', '5+5'].map((q) => JSON.stringify({ question: q, answer: '#### 0' })).join('\n'),
    'five.jsonl',
  );
  it('a batch that fails after finishing problems 4, 1 and 2 (in that order): those three, in problem order', async () => {
    const failing = new InferError('chat-template', 'x/tokenizer_config.json: the chat_template failed', {
      file: 'x/tokenizer_config.json',
    });
    const batched: CompletionModel = {
      name: 'batched',
      complete: () => Promise.reject(new Error('unused')),
      async completeMany(_, opts) {
        for (const i of [3, 0, 1]) opts.onCompletion?.(i, { text: `${i}`, tokens: 1, hitLimit: false, stop: 'eos' });
        throw failing;
      },
    };
    const error = await evaluate([{ model: batched }], set, { maxNewTokens: 8, batched: true }).catch((e) => e);
    expect(error).toBe(failing);
    const kept = finishedBefore(error)!;
    expect(kept.models[0]!.responses.map((r) => r.text)).toEqual(['0', '1', '3']);
    expect(kept.models[0]!.metrics.n).toBe(3);
    expect(kept.unfinished).toEqual({ reason: `InferError: ${failing.message}`, responses: 3, of: 5 });
    expect(finishedBefore(new Error('elsewhere'))).toBeUndefined();
  });
});
