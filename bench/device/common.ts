/**
 * What the device check's steps share: their results folder (one JSON file per step, read back by
 * ./report.ts), this process's peak RSS, and a one-line failure that ends the step.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** The results folder the runner names (bench/device-run.sh sets DEVICE_RESULTS). */
export function resultsDir(): string {
  const dir = process.env.DEVICE_RESULTS ?? path.join(tmpdir(), 'merge-lab-device-results');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes one step's result as `<name>.json` in the results folder, and prints it as one line. */
export function saveResult(name: string, value: unknown): void {
  writeFileSync(path.join(resultsDir(), `${name}.json`), JSON.stringify(value, null, 2));
  console.log(JSON.stringify(value));
}

/**
 * This process's own peak RSS in bytes (VmHWM belongs to the address space, which exec replaces;
 * getrusage's maxrss would carry a parent's peak across the exec).
 */
export function peakRssBytes(): number {
  const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kib) * 1024;
}

/** Ends the step with one clear line on stderr and the given exit code. */
export function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** A positive number from an option, or a one-line failure naming it. */
export function positive(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!(n > 0)) fail(`${flag} must be a positive number (got '${value}')`, 2);
  return n;
}
