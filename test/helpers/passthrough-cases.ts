/** Tiny checkpoints and a slices recipe for the passthrough tests (CPU and WebGPU). */
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { tinyCheckpoint, tinyModelFiles } from './checkpoints';
import { runMerge } from './merge-harness';

const SHAPE = { hidden: 8, intermediate: 12, vocab: 10 };

export const SLICES_YAML = `merge_method: passthrough
slices:
  - sources: [{model: a, layer_range: [0, 2]}]
  - sources: [{model: b, layer_range: [1, 3], parameters: {scale: 0.5}}]
`;

export async function sliceModels() {
  return [
    await tinyCheckpoint('a', { seed: 1, layers: 4, ...SHAPE }),
    await tinyCheckpoint('b', { seed: 2, layers: 3, ...SHAPE }),
  ];
}

/** A checkpoint like `b` whose config names another architecture. */
export async function otherArchitecture(name: string) {
  const files = tinyModelFiles({ seed: 3, layers: 3, ...SHAPE });
  const config = JSON.parse(new TextDecoder().decode(files.get('config.json')!));
  config.architectures = ['LlamaForCausalLM'];
  files.set('config.json', new TextEncoder().encode(JSON.stringify(config)));
  return Checkpoint.open(new MapModelFolder(name, files));
}

export async function runSlices(opts: Parameters<typeof runMerge>[2] = {}) {
  return runMerge(SLICES_YAML, await sliceModels(), opts);
}
