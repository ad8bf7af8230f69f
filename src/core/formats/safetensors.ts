/**
 * safetensors reader over a ByteSource. Layout: u64 LE header length N, N bytes of JSON
 * (name → {dtype, shape, data_offsets:[begin,end]} plus optional `__metadata__`), then data.
 * Only the header is read up front; tensors are read by byte range on demand.
 */
import { SafetensorsError } from '../errors';
import { type DType, SAFETENSORS_ITEMSIZE, isSupportedDType, SUPPORTED_DTYPES } from '../dtype';
import type { ByteSource } from '../io/byte-source';
import { preview } from './preview';

export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor's data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
    readonly dataStart: number,
  ) {}

  get name(): string {
    return this.source.name;
  }

  static async open(source: ByteSource): Promise<SafetensorsFile> {
    const file = source.name;
    const fail = (code: ConstructorParameters<typeof SafetensorsError>[0], msg: string, tensor?: string) =>
      new SafetensorsError(code, file, msg, tensor);
    if (source.size < 8) throw fail('truncated', `file is ${source.size} bytes, shorter than the 8-byte header length`);
    const lenBytes = await source.read(0, 8);
    const view = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
    const headerLen = Number(view.getBigUint64(0, true));
    if (headerLen > MAX_HEADER_BYTES)
      throw fail('header-too-large', `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    if (8 + headerLen > source.size)
      throw fail('header-beyond-file', `header length ${headerLen} runs past the end of the ${source.size}-byte file`);
    const headerBytes = await source.read(8, headerLen);
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
    } catch (e) {
      throw fail('header-not-json', `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      throw fail('header-not-object', 'header JSON is not an object');

    const dataStart = 8 + headerLen;
    const dataSize = source.size - dataStart;
    let metadata: Record<string, string> = {};
    const entries: TensorInfo[] = [];
    const ranges: [number, number, string][] = [];
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        // string → string by the format; anything else in it is dropped, not trusted.
        if (raw && typeof raw === 'object' && !Array.isArray(raw))
          metadata = Object.fromEntries(Object.entries(raw).filter(([, v]) => typeof v === 'string'));
        continue;
      }
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (
        !t ||
        typeof t !== 'object' ||
        typeof t.dtype !== 'string' ||
        !Array.isArray(t.shape) ||
        !Array.isArray(t.data_offsets) ||
        t.data_offsets.length !== 2
      )
        throw fail('header-not-object', 'entry needs dtype, shape and data_offsets', name);
      const shape = t.shape as number[];
      if (!shape.every((d) => Number.isInteger(d) && d >= 0))
        throw fail('header-not-object', `bad shape ${preview(shape)}`, name);
      const [begin, end] = t.data_offsets as number[];
      if (!Number.isInteger(begin) || !Number.isInteger(end) || begin! < 0 || end! < begin!)
        throw fail('offsets-out-of-range', `bad data_offsets ${preview(t.data_offsets)}`, name);
      if (!isSupportedDType(t.dtype)) {
        const known =
          t.dtype in SAFETENSORS_ITEMSIZE
            ? 'a valid safetensors dtype that Merge Lab does not merge'
            : 'not a safetensors dtype';
        throw fail(
          'unsupported-dtype',
          `dtype ${preview(t.dtype)} is ${known}; supported: ${SUPPORTED_DTYPES.join(', ')}`,
          name,
        );
      }
      const expected = numel(shape) * SAFETENSORS_ITEMSIZE[t.dtype]!;
      if (end! - begin! !== expected)
        throw fail(
          'byte-length-mismatch',
          `shape ${JSON.stringify(shape)} × ${t.dtype} needs ${expected} bytes but data_offsets span ${end! - begin!}`,
          name,
        );
      ranges.push([begin!, end!, name]);
      entries.push({ name, dtype: t.dtype, shape, offset: dataStart + begin!, byteLength: end! - begin! });
    }
    ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    // Compared with the furthest-reaching range so far, not just the previous one (an empty
    // tensor between two others must not hide their overlap).
    let reach: [number, number, string] | undefined;
    for (const cur of ranges) {
      if (cur[1] === cur[0]) continue;
      if (reach && cur[0] < reach[1]) throw fail('offsets-overlap', `data overlaps tensor '${reach[2]}'`, cur[2]);
      if (!reach || cur[1] > reach[1]) reach = cur;
    }
    // Data past the end of the file: a well-formed but cut-short file has contiguous ranges
    // from 0 ("truncated"); anything else is a corrupt offset ("offsets-out-of-range").
    const beyond = ranges.find((r) => r[1] > dataSize);
    if (beyond) {
      const contiguous = ranges.every((r, i) => r[0] === (i === 0 ? 0 : ranges[i - 1]![1]));
      const maxEnd = ranges[ranges.length - 1]![1];
      if (contiguous)
        throw fail(
          'truncated',
          `file is truncated: the header declares ${dataStart + maxEnd} bytes but the file has ${source.size}`,
          beyond[2],
        );
      throw fail(
        'offsets-out-of-range',
        `data_offsets end at ${beyond[1]}, outside the ${dataSize}-byte data section`,
        beyond[2],
      );
    }
    return new SafetensorsFile(source, new Map(entries.map((e) => [e.name, e])), metadata, dataStart);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError('missing-tensor', this.name, 'no such tensor in this file', name);
    return t;
  }

  /** Reads `count` elements starting at element `start` of a tensor (its raw storage bytes), into `into` where the source can. */
  async readRange(name: string, start = 0, count?: number, into?: Uint8Array): Promise<Uint8Array> {
    const { at, bytes } = this.span(name, start, count);
    return this.checked(name, at, bytes, await this.source.read(at, bytes, into));
  }

  /** Whether `readRangeSync` works on this file's source. */
  get canReadSync(): boolean {
    return this.source.readSync !== undefined;
  }

  /** `readRange`, synchronously (only where `canReadSync`). */
  readRangeSync(name: string, start = 0, count?: number): Uint8Array {
    if (!this.source.readSync) throw new Error(`${this.name}: synchronous reads are not available here`);
    const { at, bytes } = this.span(name, start, count);
    return this.checked(name, at, bytes, this.source.readSync(at, bytes));
  }

  private span(name: string, start: number, count?: number): { at: number; bytes: number } {
    const t = this.info(name);
    const item = t.dtype === 'F32' ? 4 : 2;
    return { at: t.offset + start * item, bytes: (count ?? t.byteLength / item - start) * item };
  }

  private checked(name: string, at: number, want: number, bytes: Uint8Array): Uint8Array {
    if (bytes.byteLength !== want)
      throw new SafetensorsError(
        'truncated',
        this.name,
        `expected ${want} bytes at offset ${at}, got ${bytes.byteLength}`,
        name,
      );
    return bytes;
  }
}
