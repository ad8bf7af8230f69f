/**
 * safetensors: structure-aware mutations of generated files (one header field changed, the header
 * length or the data section tampered with) and byte-level mutations of the real demo checkpoint.
 * The path that follows opening is exercised too: every tensor (or a sample of the demo's) is read
 * and decoded to f32.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { type DType, decodeToF32 } from '../../../src/core/dtype';
import { SafetensorsFile, numel } from '../../../src/core/formats/safetensors';
import { ContractViolation, RecordingFolder, checkContract } from '../contract';
import {
  type ByteMutation,
  type JsonMutation,
  type JsonValue,
  applyByteMutation,
  applyJsonMutation,
  byteMutation,
  jsonMutation,
} from '../json-mutation';
import type { FuzzTarget } from '../target';

export const HEADER_LENGTHS = [
  'true',
  'plus-one',
  'minus-one',
  'zero',
  '100MB',
  '100MB+1',
  'u64-max',
  '2^53+1',
] as const;
type HeaderLength = (typeof HEADER_LENGTHS)[number];

export interface TensorSpec {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

export interface SafetensorsInput {
  readonly tensors: readonly TensorSpec[];
  readonly mutation: JsonMutation | null;
  readonly headerLength: HeaderLength;
  /** Bytes removed from (negative) or added to (positive) the end of the data section. */
  readonly dataDelta: number;
}

const ITEM: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, U8: 1 };

/** A valid header for `tensors`, laid out back to back, and the data size it implies. */
export function validHeader(tensors: readonly TensorSpec[]): { header: Record<string, JsonValue>; dataBytes: number } {
  const header: Record<string, JsonValue> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = numel(t.shape) * (ITEM[t.dtype] ?? 4);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return { header, dataBytes: offset };
}

function headerLengthField(real: number, how: HeaderLength): bigint {
  switch (how) {
    case 'true':
      return BigInt(real);
    case 'plus-one':
      return BigInt(real + 1);
    case 'minus-one':
      return BigInt(Math.max(0, real - 1));
    case 'zero':
      return 0n;
    case '100MB':
      return 100_000_000n;
    case '100MB+1':
      return 100_000_001n;
    case 'u64-max':
      return 2n ** 64n - 1n;
    case '2^53+1':
      return 2n ** 53n + 1n;
  }
}

export function encodeFile(headerText: string, dataBytes: number, how: HeaderLength): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + Math.max(0, dataBytes));
  new DataView(out.buffer).setBigUint64(0, headerLengthField(json.length, how), true);
  out.set(json, 8);
  for (let i = 8 + json.length; i < out.length; i++) out[i] = (i * 37) & 0xff;
  return out;
}

/** Reads and decodes the named tensors, checking what the header promised. */
export async function readTensors(file: SafetensorsFile, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const info = file.info(name);
    const bytes = await file.readRange(name);
    const values = decodeToF32(bytes, info.dtype as DType);
    if (values.length !== numel(info.shape))
      throw new ContractViolation(`${name}: decoded ${values.length} values for shape ${JSON.stringify(info.shape)}`);
  }
}

const tensorSpec = fc.record({
  name: fc.constantFrom('a', 'b', 'model.embed_tokens.weight', 'lm_head.weight', 'x.bias', '💥', ''),
  dtype: fc.constantFrom('F32', 'F32', 'F16', 'BF16', 'I64', 'U8'),
  shape: fc.array(fc.nat({ max: 5 }), { maxLength: 3 }),
});

export const safetensorsHeaderTarget: FuzzTarget<SafetensorsInput> = {
  name: 'safetensors-header',
  format: 'safetensors',
  sliceRuns: 1500,
  arbitrary: fc.record({
    tensors: fc.uniqueArray(tensorSpec, { selector: (t) => t.name, minLength: 1, maxLength: 4 }),
    mutation: fc.option(jsonMutation, { nil: null, freq: 4 }),
    headerLength: fc.oneof(
      { arbitrary: fc.constant('true' as const), weight: 6 },
      { arbitrary: fc.constantFrom(...HEADER_LENGTHS), weight: 1 },
    ),
    dataDelta: fc.oneof(
      { arbitrary: fc.constant(0), weight: 5 },
      { arbitrary: fc.integer({ min: -9, max: 9 }), weight: 1 },
    ),
  }),
  async run(input) {
    const { header, dataBytes } = validHeader(input.tensors);
    const text = input.mutation ? applyJsonMutation(header, input.mutation) : JSON.stringify(header);
    const bytes = encodeFile(text, dataBytes + input.dataDelta, input.headerLength);
    const folder = new RecordingFolder('fuzz', new Map([['model.safetensors', bytes]]));
    return checkContract(
      async () => {
        const file = await SafetensorsFile.open((await folder.open('model.safetensors'))!);
        await readTensors(file, [...file.tensors.keys()]);
      },
      { files: ['model.safetensors'] },
    );
  },
};

let demo: { bytes: Uint8Array; headerEnd: number } | undefined;
export function demoCheckpointBytes(): { bytes: Uint8Array; headerEnd: number } {
  if (!demo) {
    const bytes = new Uint8Array(readFileSync('public/models/demo-base/model.safetensors'));
    demo = { bytes, headerEnd: 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)) };
  }
  return demo;
}

export const safetensorsDemoBytesTarget: FuzzTarget<ByteMutation> = {
  name: 'safetensors-demo-bytes',
  format: 'safetensors',
  sliceRuns: 400,
  get arbitrary() {
    const { bytes, headerEnd } = demoCheckpointBytes();
    return byteMutation(bytes.length, headerEnd + 16);
  },
  async run(m) {
    const bytes = applyByteMutation(demoCheckpointBytes().bytes, m);
    const folder = new RecordingFolder('demo-base', new Map([['model.safetensors', bytes]]));
    return checkContract(
      async () => {
        const file = await SafetensorsFile.open((await folder.open('model.safetensors'))!);
        const names = [...file.tensors.keys()];
        await readTensors(file, [names[0]!, names[names.length >> 1]!, names[names.length - 1]!]);
      },
      { files: ['model.safetensors'] },
    );
  },
};
