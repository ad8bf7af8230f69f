/**
 * `merge-lab calibrate --model DIR --set FILE`: AIM activation statistics of the base model on
 * short answers from a problem set, saved as a small JSON file keyed by model and set
 * (default name `<model>.<set>.aim-stats.json`), which recipes name in `aim.calibration`.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseProblemSet } from '../core/eval/problem-set';
import { MAX_AUTO_BATCH, calibrate, calibrationMessages } from '../infer/calibrate';
import { nodeRuntimeAdapter } from '../node/ort-adapter';
import type { EpChoice } from '../infer/runtime';
import { FsModelFolder } from '../node/fs-folder';
import { UsageError, WEIGHT_USAGE, parse, weightFlags, weightOptions } from './args';
import { positiveInt } from './eval-command';
import { WEIGHTS_CACHE_USAGE, cachedWeightsOption, weightsCacheFlag } from './weights-cache-flag';

export const CALIBRATE_USAGE = `merge-lab calibrate --model DIR --set FILE [--samples 32] [--batch N|auto] [--out FILE] [--ep auto|wasm|webgpu] ${WEIGHT_USAGE} ${WEIGHTS_CACHE_USAGE}`;

export function defaultStatsFile(modelDir: string, setFile: string): string {
  return `${path.basename(path.resolve(modelDir))}.${path.basename(setFile).replace(/\.[^.]+$/, '')}.aim-stats.json`;
}

export async function calibrateCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    set: { type: 'string' },
    samples: { type: 'string', default: '32' },
    batch: { type: 'string', default: 'auto' },
    out: { type: 'string' },
    ep: { type: 'string', default: 'wasm' },
    ...weightFlags,
    ...weightsCacheFlag,
  });
  if (!values.model || !values.set) throw new UsageError(`usage: ${CALIBRATE_USAGE}`);
  const samples = Number(values.samples);
  if (!Number.isInteger(samples) || samples <= 0) throw new UsageError('--samples must be a positive integer');
  const batchSize = values.batch === 'auto' ? 'auto' : positiveInt(values.batch, '--batch')!;
  const weights = weightOptions(values);
  const set = parseProblemSet(await fs.readFile(values.set, 'utf8'), path.basename(values.set));
  const folder = new FsModelFolder(values.model);
  try {
    const stats = await calibrate(folder, calibrationMessages(set, samples), set.name, {
      ep: values.ep as EpChoice,
      ...weights,
      ...(await cachedWeightsOption(values.model, values['weights-cache'], weights)),
      adapter: nodeRuntimeAdapter(),
      batchSize,
      onBatch: (b) =>
        process.stderr.write(`batch ${b} (the memory plan's largest up to ${MAX_AUTO_BATCH}; --batch N to choose)\n`),
      onProgress: (d, n) => process.stderr.isTTY && process.stderr.write(`\rcalibrating ${d}/${n}\x1b[K`),
    });
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    const out = values.out ?? defaultStatsFile(values.model, values.set);
    await fs.writeFile(out, JSON.stringify(stats) + '\n');
    console.log(
      `${out}: ${Object.keys(stats.channels).length} linear weights, ${stats.calibration.samples} samples, ${stats.calibration.tokens} tokens`,
    );
  } finally {
    await folder.close();
  }
}
