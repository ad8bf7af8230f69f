/** A plain-words summary of a checkpoint, for the UI and the CLI. */
import type { Checkpoint } from './checkpoint';
import { numel } from './safetensors';

export interface CheckpointSummary {
  readonly name: string;
  readonly architecture: string;
  readonly parameters: number;
  readonly dtypes: readonly string[];
  readonly bytes: number;
  readonly shards: number;
  readonly tensors: number;
  readonly layers: number | undefined;
  readonly hiddenSize: number | undefined;
  readonly vocabSize: number | undefined;
  readonly tiedEmbeddings: boolean | undefined;
  /** Problems in plain words (missing config, unreferenced shards…). */
  readonly problems: readonly string[];
}

export function describeCheckpoint(c: Checkpoint): CheckpointSummary {
  let parameters = 0;
  const dtypes = new Set<string>();
  for (const t of c.tensors.values()) {
    parameters += numel(t.shape);
    dtypes.add(t.dtype);
  }
  const problems = [...c.warnings];
  if (!c.config) problems.push('no config.json: the architecture is unknown and the model cannot be run');
  else if (c.config.tieWordEmbeddings === false && !c.tensor('lm_head.weight'))
    problems.push('config says the head is untied but lm_head.weight is missing');
  return {
    name: c.name,
    architecture: c.config?.architecture ?? 'unknown',
    parameters,
    dtypes: [...dtypes],
    bytes: c.totalBytes,
    shards: c.shards.length,
    tensors: c.tensors.size,
    layers: c.config?.numLayers,
    hiddenSize: c.config?.hiddenSize,
    vocabSize: c.config?.vocabSize,
    tiedEmbeddings: c.config?.tieWordEmbeddings,
    problems,
  };
}
