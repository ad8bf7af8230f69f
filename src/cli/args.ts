/** Minimal flag parsing on top of node:util's parseArgs, with errors that name the flag. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LabError } from '../core/errors';

/** A bad command line (flag, value or combination): the CLI prints it with the usage and exits 2. */
export class UsageError extends LabError {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Parses sizes such as `1GB`, `512MiB`, `4096`. */
export function parseBytes(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`${flag}: '${s}' is not a size (e.g. 1GB, 512MiB)`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
  return Math.round(Number(m[1]) * mult[unit]!);
}
