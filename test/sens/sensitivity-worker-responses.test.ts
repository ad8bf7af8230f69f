// The page's calibration on a model's responses (the sensitivity worker API in Node, as the Web
// Worker runs it) gives the statistics `merge-lab sensitivity --text responses` writes on the same
// `merge-lab eval --json` file: same samples, sensitivities, distances and readings. The page names
// the set by its id (`arith-heldout`), the CLI by its file name; the responses' problem ids match.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CalibrationTextError } from '../../src/core/sens/calibration-text';
import { parseSensStats } from '../../src/core/sens/stats';
import { type SensitivityRequest, createSensitivityWorkerApi } from '../../src/workers/sensitivity.worker';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const SET = 'public/data/arith-heldout.jsonl';
const tmp = mkdtempSync(path.join(tmpdir(), 'sens-responses-'));
const EVAL = path.join(tmp, 'eval.json');
const CLI_STATS = path.join(tmp, 'cli.json');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const model = (name: string) => {
  const dir = path.join('public/models', name);
  return { name, files: Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f))])) };
};

beforeAll(async () => {
  const evalArgs = ['eval', '--models', 'public/models/demo-slow', '--set', SET, '--limit', '3'];
  await run('node', [BIN, ...evalArgs, '--max-new-tokens', '48', '--batch', '1', '--json', EVAL]);
  await run('node', [
    BIN,
    'sensitivity',
    ...['--model', 'public/models/demo-quick', '--set', SET, '--answers', 'long', '--samples', '2'],
    ...['--text', 'responses', '--responses', EVAL, '--responses-model', 'demo-slow'],
    ...['--compare', 'public/models/demo-slow', '--out', CLI_STATS],
  ]);
}, 120_000);

const request = (o: Partial<SensitivityRequest> = {}): SensitivityRequest => ({
  model: model('demo-quick'),
  compare: [model('demo-slow')],
  setText: readFileSync(SET, 'utf8'),
  setName: 'arith-heldout',
  responses: { json: readFileSync(EVAL, 'utf8'), file: 'eval.json', model: 'demo-slow' },
  answers: 'long',
  samples: 2,
  seed: 1,
  maxTokens: null,
  ...o,
});

describe("sensitivity worker on a model's responses", () => {
  it('gives the statistics the CLI writes with --text responses', async () => {
    const cli = parseSensStats(readFileSync(CLI_STATS, 'utf8'), CLI_STATS);
    const page = await createSensitivityWorkerApi().calibrate(request());
    expect(page.calibration).toEqual({ ...cli.calibration, set: 'arith-heldout' });
    expect(page.calibration.text).toBe('responses');
    expect(page.readings).toEqual(cli.readings);
    expect(page.readings.text).toMatch(/long answer from a model's responses/);
    expect(page.samples).toEqual(cli.samples);
    expect(page.tensors).toEqual(cli.tensors);
    expect(page.layers).toEqual(cli.layers);
    expect(page.logitDistances).toEqual(cli.logitDistances);
    // The responses are the answers: not the reference calibration of the same model.
    const reference = await createSensitivityWorkerApi().calibrate(request({ answers: 'short', responses: undefined }));
    expect(reference.calibration.text).toBe('reference');
    expect(reference.samples).not.toEqual(page.samples);
  }, 120_000);

  it('refuses responses of a model the file does not hold, naming the file', async () => {
    const err = await createSensitivityWorkerApi()
      .calibrate(request({ responses: { json: readFileSync(EVAL, 'utf8'), file: 'eval.json', model: 'nobody' } }))
      .catch((e) => e);
    expect(err).toBeInstanceOf(CalibrationTextError);
    expect(err.code).toBe('no-calibration-text');
    expect(err.message).toMatch(/^eval\.json: no responses of model 'nobody'/);
  });
});
