/**
 * `merge-lab sensitivity --model DIR --set FILE`: Sens-Merging statistics of one model (per-layer
 * Σ|θ⊙∂L/∂θ| on calibration text, by a backward pass), saved as a small JSON file keyed by
 * model and set (default `<model>.<set>.<answers>.sens-stats.json`) that `sens_merging` recipes
 * name. `--compare DIR` (repeatable) records the logit distance to another model on the same text.
 * `--backend webgpu` runs the backward pass on WebGPU (Dawn in Node; f32, src/infer/sens/gpu)
 * instead of the CPU twin (f64); the file's readings name the backend. Ctrl-C cancels; no file is
 * written then.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseProblemSet } from '../core/eval/problem-set';
import { chooseExamples, referenceExamples, responseExamples } from '../core/sens/calibration-text';
import { type SensBackendPass, sensCalibrate } from '../infer/sens/calibrate';
import { SensGpu } from '../infer/sens/gpu/context';
import { webgpuBackend } from '../infer/sens/gpu/pass';
import { FsModelFolder } from '../node/fs-folder';
import { nodeGpu } from '../node/webgpu-env';
import { UsageError, parse } from './args';
import { positiveInt } from './eval-command';

export const SENSITIVITY_USAGE =
  'merge-lab sensitivity --model DIR --set FILE [--answers short|long] [--text reference|responses --responses RESULTS.json --responses-model NAME] [--samples 100] [--seed 1] [--max-tokens N] [--loss-on all|answer] [--compare DIR]... [--backend cpu|webgpu] [--out FILE]';

export function defaultSensFile(modelDir: string, setFile: string, answers: string): string {
  const set = path.basename(setFile).replace(/\.[^.]+$/, '');
  return `${path.basename(path.resolve(modelDir))}.${set}.${answers}.sens-stats.json`;
}

function choice<T extends string>(v: string | undefined, flag: string, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')} (got '${v}')`);
  return v as T;
}

export async function sensitivityCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    set: { type: 'string' },
    answers: { type: 'string', default: 'short' },
    text: { type: 'string', default: 'reference' },
    responses: { type: 'string' },
    'responses-model': { type: 'string' },
    samples: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    'max-tokens': { type: 'string' },
    'loss-on': { type: 'string', default: 'all' },
    compare: { type: 'string', multiple: true },
    out: { type: 'string' },
    backend: { type: 'string', default: 'cpu' },
  });
  if (!values.model || !values.set) throw new UsageError(`usage: ${SENSITIVITY_USAGE}`);
  const answers = choice(values.answers, '--answers', ['short', 'long'] as const);
  const text = choice(values.text, '--text', ['reference', 'responses'] as const);
  const lossOn = choice(values['loss-on'], '--loss-on', ['all', 'answer'] as const);
  const backendName = choice(values.backend, '--backend', ['cpu', 'webgpu'] as const);
  const samples = positiveInt(values.samples, '--samples')!;
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError('--seed must be a non-negative integer');
  const maxTokens = positiveInt(values['max-tokens'], '--max-tokens') ?? null;
  const setText = await fs.readFile(values.set, 'utf8');
  const setName = path.basename(values.set);
  let examples;
  if (text === 'reference') examples = referenceExamples(setText, setName, answers);
  else {
    if (!values.responses || !values['responses-model'])
      throw new UsageError('--text responses needs --responses RESULTS.json and --responses-model NAME');
    const set = parseProblemSet(setText, setName);
    const questions = new Map(set.problems.map((p) => [p.id, p.question]));
    const file = values.responses;
    examples = responseExamples(await fs.readFile(file, 'utf8'), file, values['responses-model'], questions);
  }
  const chosen = chooseExamples(examples, samples, seed);
  const folder = new FsModelFolder(values.model);
  const compare = (values.compare ?? []).map((d) => new FsModelFolder(d));
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  let gpu: SensGpu | undefined;
  try {
    let backend: SensBackendPass | undefined;
    if (backendName === 'webgpu') {
      gpu = await SensGpu.create(await nodeGpu());
      backend = webgpuBackend(gpu);
      process.stderr.write(`backward pass on ${gpu.name}\n`);
    }
    const stats = await sensCalibrate(folder, chosen, setName, {
      text,
      answers,
      seed,
      maxTokens,
      lossOn,
      compare,
      signal: abort.signal,
      ...(backend ? { backend } : {}),
      onProgress: (d, n, phase) => {
        if (process.stderr.isTTY) process.stderr.write(`\r${phase} ${d}/${n}\x1b[K${d === n ? '\n' : ''}`);
        else if (d === n || d % Math.max(1, Math.round(n / 10)) === 0) process.stderr.write(`${phase} ${d}/${n}\n`);
      },
    });
    const out = values.out ?? defaultSensFile(values.model, values.set, answers);
    await fs.writeFile(out, JSON.stringify(stats) + '\n');
    const groups = Object.keys(stats.layers).length;
    console.log(
      `${out}: ${groups} layer groups, ${stats.calibration.samples} samples, ${stats.calibration.targets} target tokens` +
        (compare.length ? `, logit distances to ${Object.keys(stats.logitDistances).join(', ')}` : ''),
    );
  } finally {
    process.off('SIGINT', onSigint);
    await gpu?.dispose();
    await Promise.all([folder, ...compare].map((f) => f.close()));
  }
}
