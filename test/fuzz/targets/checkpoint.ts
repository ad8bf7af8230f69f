/**
 * Checkpoint folders: a sharded tiny model (model.safetensors.index.json, two shards, config.json)
 * with one file mutated or missing, opened, described, read tensor by tensor and merged (linear,
 * CPU backend) with an intact copy; and config.json alone (structure-aware and byte-level
 * mutations of the demo's), parsed and sized.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Checkpoint } from '../../../src/core/formats/checkpoint';
import { describeCheckpoint } from '../../../src/core/formats/describe';
import { estimateParameters, parseModelConfig } from '../../../src/core/formats/model-config';
import { MapModelFolder } from '../../../src/core/io/byte-source';
import { MemoryOutputFolder } from '../../../src/core/io/output-folder';
import { CpuBackend } from '../../../src/core/merge/cpu-backend';
import { merge } from '../../../src/core/merge/execute';
import { parseRecipe } from '../../../src/core/recipe/parse';
import { tinyModelFiles } from '../../helpers/checkpoints';
import { ContractViolation, RecordingFolder, checkContract, utf8 } from '../contract';
import {
  type ByteMutation,
  type JsonMutation,
  applyByteMutation,
  applyJsonMutation,
  byteMutation,
  jsonMutation,
} from '../json-mutation';
import type { FuzzTarget } from '../target';
import { readTensors } from './safetensors';

const SHARD_1 = 'model-00001-of-00002.safetensors';
const SHARD_2 = 'model-00002-of-00002.safetensors';
const FILES = ['model.safetensors.index.json', 'config.json', SHARD_1, SHARD_2] as const;

export interface CheckpointInput {
  readonly file: (typeof FILES)[number];
  /** Structure-aware (a JSON file, or a shard's header) or byte-level; `null` removes the file. */
  readonly change: { json: JsonMutation } | { bytes: ByteMutation } | null;
  readonly merge: boolean;
}

const tinyOptions = { seed: 7, layers: 1, shards: 2 };
let pristine: Map<string, Uint8Array> | undefined;
const original = () => (pristine ??= tinyModelFiles(tinyOptions));

/** A shard with one field of its JSON header changed (the header length follows the new text). */
function mutateShardHeader(bytes: Uint8Array, m: JsonMutation): Uint8Array {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
  const text = utf8(applyJsonMutation(header, m));
  const data = bytes.subarray(8 + len);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function mutatedFiles(input: CheckpointInput): Map<string, Uint8Array> {
  const files = new Map(original());
  const bytes = files.get(input.file)!;
  if (input.change === null) files.delete(input.file);
  else if ('bytes' in input.change) files.set(input.file, applyByteMutation(bytes, input.change.bytes));
  else if (input.file.endsWith('.safetensors')) files.set(input.file, mutateShardHeader(bytes, input.change.json));
  else files.set(input.file, utf8(applyJsonMutation(JSON.parse(new TextDecoder().decode(bytes)), input.change.json)));
  return files;
}

const RECIPE = `merge_method: linear
models:
  - model: fuzz
    parameters: {weight: 0.5}
  - model: ref
    parameters: {weight: 0.5}
dtype: float32`;

export const checkpointTarget: FuzzTarget<CheckpointInput> = {
  name: 'checkpoint-sharded',
  format: 'checkpoint (index.json + shards + config.json)',
  sliceRuns: 700,
  arbitrary: fc.record({
    file: fc.constantFrom(...FILES),
    change: fc.oneof(
      { arbitrary: fc.record({ json: jsonMutation }), weight: 6 },
      { arbitrary: fc.record({ bytes: byteMutation(600, 200) }), weight: 2 },
      { arbitrary: fc.constant(null), weight: 1 },
    ),
    merge: fc.boolean(),
  }),
  async run(input) {
    const folder = new RecordingFolder('fuzz', mutatedFiles(input));
    return checkContract(
      async () => {
        const ckpt = await Checkpoint.open(folder, { requireConfig: true });
        const summary = describeCheckpoint(ckpt);
        if (!Number.isFinite(summary.parameters) || !Number.isFinite(summary.bytes))
          throw new ContractViolation(`summary has non-finite figures: ${JSON.stringify(summary)}`);
        for (const shard of ckpt.shards) await readTensors(shard, [...shard.tensors.keys()]);
        if (!input.merge) return;
        const ref = await Checkpoint.open(new MapModelFolder('ref', original()));
        const models = new Map([
          ['fuzz', ckpt],
          ['ref', ref],
        ]);
        await merge(parseRecipe(RECIPE).recipe, models, new CpuBackend(), new MemoryOutputFolder());
      },
      { files: [...FILES], orTensor: true },
    );
  },
};

let demoConfig: unknown;
const config = () => (demoConfig ??= JSON.parse(readFileSync('public/models/demo-base/config.json', 'utf8')));

export type ConfigInput = { json: JsonMutation } | { bytes: ByteMutation };

export const configTarget: FuzzTarget<ConfigInput> = {
  name: 'config-json',
  format: 'config.json',
  sliceRuns: 600,
  arbitrary: fc.oneof(
    { arbitrary: fc.record({ json: jsonMutation }), weight: 3 },
    { arbitrary: fc.record({ bytes: byteMutation(700) }), weight: 1 },
  ),
  async run(input) {
    const text =
      'json' in input
        ? applyJsonMutation(config() as never, input.json)
        : new TextDecoder().decode(applyByteMutation(utf8(JSON.stringify(config(), null, 2)), input.bytes));
    return checkContract(
      () => {
        const c = parseModelConfig(text, 'demo-base/config.json');
        const sizes = [c.hiddenSize, c.intermediateSize, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.vocabSize];
        if (!sizes.every((n) => Number.isSafeInteger(n) && n > 0))
          throw new ContractViolation(`config accepted with sizes ${sizes.join(', ')}`);
        if (Number.isNaN(estimateParameters(c))) throw new ContractViolation('parameter estimate is NaN');
      },
      { files: ['config.json'], inputChars: text.length },
    );
  },
};
