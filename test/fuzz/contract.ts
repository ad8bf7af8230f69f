/**
 * What every fuzz case must satisfy: it ends in success or in a typed LabError (InferError is one)
 * naming the file (and the tensor, for errors about one tensor); it ends within a time bound; and
 * it never asks a file for bytes it does not have (reads are recorded by `RecordingFolder`, so a
 * size that a header merely claims cannot turn into an allocation).
 */
import { LabError } from '../../src/core/errors';
import type { ByteSource, ModelFolder } from '../../src/core/io/byte-source';
import { MapModelFolder } from '../../src/core/io/byte-source';

/**
 * Wall-clock bound on one case: a base plus an allowance per megabyte of input (YAML and JSON
 * parsers are linear but not fast, and the 2 cores here are shared by several jobs). A hang is
 * work that does not scale with the input; this bound catches it.
 */
export const CASE_TIME_BOUND_MS = 10_000;
export const CASE_TIME_PER_MB_MS = 10_000;
/** Bytes a case may read in all, as a multiple of the files' real total size. */
export const READ_BOUND_FACTOR = 4;

export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
}

/** Codes whose error is about one tensor, so the error must name it. */
const TENSOR_CODES = new Set([
  'unsupported-dtype',
  'byte-length-mismatch',
  'offsets-out-of-range',
  'offsets-overlap',
  'missing-tensor',
  'shape-mismatch',
]);

export interface Expectation {
  /** Error locations must name one of these (a file name or its end, e.g. `model.safetensors`). */
  readonly files?: readonly string[];
  /** A recipe or link error names a field instead of a file. */
  readonly field?: boolean;
  /** A merge error about one tensor may name the tensor instead of a file. */
  readonly orTensor?: boolean;
  readonly timeBoundMs?: number;
  /** Size of a text input, for the per-megabyte allowance. */
  readonly inputChars?: number;
}

export type Outcome = { kind: 'ok' } | { kind: 'error'; code: string };

/** Runs one case and checks the contract; throws ContractViolation otherwise. */
export async function checkContract(run: () => unknown, expect: Expectation): Promise<Outcome> {
  const bound = (expect.timeBoundMs ?? CASE_TIME_BOUND_MS) + ((expect.inputChars ?? 0) / 1e6) * CASE_TIME_PER_MB_MS;
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ContractViolation(`hang: no result within ${bound.toFixed(0)} ms`)), bound);
  });
  let outcome: Outcome;
  try {
    await Promise.race([Promise.resolve().then(run), hang]);
    outcome = { kind: 'ok' };
  } catch (e) {
    if (e instanceof ContractViolation) throw e;
    outcome = { kind: 'error', code: checkError(e, expect) };
  } finally {
    clearTimeout(timer);
  }
  const took = performance.now() - started;
  if (took > bound)
    throw new ContractViolation(`hang: the case took ${took.toFixed(0)} ms (bound ${bound.toFixed(0)} ms)`);
  return outcome;
}

function checkError(e: unknown, expect: Expectation): string {
  if (!(e instanceof LabError))
    throw new ContractViolation(`crash: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, { cause: e });
  if (e.code === 'aborted') throw new ContractViolation('crash: an AbortError nobody asked for');
  const files = expect.files ?? [];
  const named = e.file !== undefined && files.some((f) => e.file === f || e.file!.endsWith(`/${f}`));
  const elsewhere = (expect.field && e.field !== undefined) || (expect.orTensor && e.tensor !== undefined);
  if (files.length && !named && !elsewhere)
    throw new ContractViolation(
      `${e.name} ${e.code} names ${e.file ?? 'no file'}, expected one of ${files.join(', ')}`,
      {
        cause: e,
      },
    );
  if (expect.field && !files.length && e.field === undefined)
    throw new ContractViolation(`${e.name} ${e.code} names no field`, { cause: e });
  if (TENSOR_CODES.has(e.code) && e.tensor === undefined)
    throw new ContractViolation(`${e.name} ${e.code} names no tensor: ${e.message}`, { cause: e });
  return e.code;
}

/** A ByteSource that refuses (as a contract violation) any read outside the file, and counts bytes read. */
class RecordingSource implements ByteSource {
  readonly readSync?: (offset: number, length: number) => Uint8Array;
  constructor(
    private readonly inner: ByteSource,
    private readonly ledger: ReadLedger,
  ) {
    const sync = inner.readSync;
    if (sync) this.readSync = (offset, length) => sync.call(inner, ...this.check(offset, length));
  }
  get name(): string {
    return this.inner.name;
  }
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(...this.check(offset, length));
  }
  private check(offset: number, length: number): [number, number] {
    const ok = Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0;
    if (!ok || offset + length > this.inner.size)
      throw new ContractViolation(
        `over-allocation: read(${offset}, ${length}) of ${this.inner.name}, a ${this.inner.size}-byte file`,
      );
    this.ledger.largestRead = Math.max(this.ledger.largestRead, length);
    this.ledger.bytesRead += length;
    if (this.ledger.bytesRead > READ_BOUND_FACTOR * this.ledger.realBytes)
      throw new ContractViolation(`over-allocation: ${this.ledger.bytesRead} bytes read from ${this.ledger.realBytes}`);
    return [offset, length];
  }
}

export interface ReadLedger {
  realBytes: number;
  largestRead: number;
  bytesRead: number;
}

/** A MapModelFolder whose files are read through RecordingSource. */
export class RecordingFolder implements ModelFolder {
  private readonly inner: MapModelFolder;
  readonly ledger: ReadLedger;
  constructor(
    readonly name: string,
    files: Map<string, Uint8Array>,
  ) {
    this.inner = new MapModelFolder(name, files);
    let real = 0;
    for (const f of files.values()) real += f.byteLength;
    this.ledger = { realBytes: real, largestRead: 0, bytesRead: 0 };
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  async open(file: string): Promise<ByteSource | undefined> {
    const src = await this.inner.open(file);
    return src && new RecordingSource(src, this.ledger);
  }
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
