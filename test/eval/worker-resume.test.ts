/**
 * Resuming an interrupted evaluation in the evaluation worker (eval.worker.ts through eval-client.ts,
 * over a real MessageChannel in Node, wasm EP, the demo models): given the responses that finished
 * before, the worker generates only the missing ones and returns the run an uninterrupted
 * evaluation returns (records equal, metrics equal), one problem at a time and batched.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EvalRun } from '../../src/core/eval/run';
import { folderBlobs, useEvalWorker } from '../helpers/eval-worker';

const SET = readFileSync('public/data/arith-heldout.jsonl', 'utf8');
const MODELS = ['demo-quick', 'demo-slow'];
const withoutTiming = (run: EvalRun) => ({
  ...run,
  ms: 0,
  models: run.models.map(({ tokPerS: _t, ...m }) => m),
});

describe('resuming an evaluation in the evaluation worker', () => {
  const client = useEvalWorker();

  it('generates only the missing responses and returns the uninterrupted run', { timeout: 300_000 }, async () => {
    for (const name of MODELS) await client.load(name, folderBlobs(`public/models/${name}`), 'wasm', { batchSize: 3 });
    for (const batch of [1, 3]) {
      const req = {
        models: MODELS.map((name) => ({ name })),
        setText: SET,
        setName: 'arith',
        limit: 4,
        maxNewTokens: 48,
        batch,
      };
      const full = await client.evaluate(req);
      // Interrupted after demo-quick's four responses and demo-slow's second and third.
      const slow = full.models[1]!.responses;
      const finished = { 'demo-quick': full.models[0]!.responses, 'demo-slow': [slow[1]!, slow[2]!] };
      const generated = new Set<string>();
      const resumed = await client.evaluate(
        { ...req, finished },
        { onText: (model, problem) => void generated.add(`${model} ${problem}`) },
      );
      expect([...generated].sort(), `batch ${batch}`).toEqual(
        [`demo-slow ${slow[0]!.problemId}`, `demo-slow ${slow[3]!.problemId}`].sort(),
      );
      expect(withoutTiming(resumed), `batch ${batch}`).toEqual(withoutTiming(full));
    }
  });
});
