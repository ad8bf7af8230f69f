/** Minimal flag parsing on top of node:util's parseArgs, with errors that name the flag. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LabError } from '../core/errors';
import { Q4_BLOCK_SIZES } from '../core/kernels/q4-pack';
import {
  COMPUTE_CHOICES,
  KV_CACHE_DTYPES,
  WEIGHT_FORMATS,
  type WeightOptions,
  isComputeChoice,
  isKvCacheDtype,
  isQ4BlockSize,
  isWeightFormat,
} from '../infer/weight-format';

/** A bad command line (flag, value or combination): the CLI prints it with the usage and exits 2. */
export class UsageError extends LabError {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

/** True when the command line asks for help: `--help` or `-h` anywhere before a `--` terminator. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * `--weights f32|f16|q4`, `--block-size 32|64|128`, `--kv-cache f32|f16` (default f32 with f32
 * weights, f16 with f16 and q4), `--compute auto|f32|f16` (f16: the projections of f16 weights in
 * f16, WebGPU with shader-f16 only) and `--force-load` (load even when the memory plan says the
 * model does not fit), for every command that runs a model.
 */
export const weightFlags = {
  weights: { type: 'string', default: 'f32' },
  'block-size': { type: 'string' },
  'kv-cache': { type: 'string' },
  compute: { type: 'string', default: 'auto' },
  'force-load': { type: 'boolean', default: false },
} as const;

export const WEIGHT_USAGE =
  `[--weights ${WEIGHT_FORMATS.join('|')}] [--block-size ${Q4_BLOCK_SIZES.join('|')}] ` +
  `[--kv-cache ${KV_CACHE_DTYPES.join('|')}] [--compute ${COMPUTE_CHOICES.join('|')}] [--force-load]`;

/** The flags as parsed (every one optional: commands that take only some pass those). */
export interface WeightFlagValues {
  weights?: string | undefined;
  'block-size'?: string | undefined;
  'kv-cache'?: string | undefined;
  compute?: string | undefined;
  'force-load'?: boolean | undefined;
}

/** The weight format and whether to load past the memory plan, as load options take them. */
export type WeightChoice = WeightOptions & { force?: boolean };

export function weightOptions(values: WeightFlagValues): WeightChoice {
  const force = values['force-load'] ? { force: true } : {};
  return { ...formatOptions(values), ...precisionOptions(values), ...force };
}

function precisionOptions(values: WeightFlagValues): Pick<WeightOptions, 'kvCache' | 'compute'> {
  const kv = values['kv-cache'];
  if (kv !== undefined && !isKvCacheDtype(kv))
    throw new UsageError(`--kv-cache must be ${KV_CACHE_DTYPES.join(', ')} (got '${kv}')`, { field: 'kvCache' });
  const compute = values.compute;
  if (compute !== undefined && !isComputeChoice(compute))
    throw new UsageError(`--compute must be ${COMPUTE_CHOICES.join(', ')} (got '${compute}')`, { field: 'compute' });
  return { ...(kv !== undefined && { kvCache: kv }), ...(compute !== undefined && { compute }) };
}

function formatOptions(values: WeightFlagValues): WeightOptions {
  const weights = values.weights ?? 'f32';
  if (!isWeightFormat(weights))
    throw new UsageError(`--weights must be ${WEIGHT_FORMATS.join(', ')} (got '${weights}')`, { field: 'weights' });
  const bs = values['block-size'];
  if (bs === undefined) return { weights };
  const blockSize = Number(bs);
  if (!isQ4BlockSize(blockSize))
    throw new UsageError(`--block-size must be ${Q4_BLOCK_SIZES.join(', ')} (got '${bs}')`, { field: 'blockSize' });
  if (weights !== 'q4') throw new UsageError(`--block-size applies to --weights q4 only`, { field: 'blockSize' });
  return { weights, blockSize };
}

/** Parses sizes such as `1GB`, `512MiB`, `4096`. */
export function parseBytes(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`${flag}: '${s}' is not a size (e.g. 1GB, 512MiB)`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
  return Math.round(Number(m[1]) * mult[unit]!);
}
