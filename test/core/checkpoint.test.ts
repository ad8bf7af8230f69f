import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/core/errors';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { estimateParameters } from '../../src/core/formats/model-config';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { tinyModelFiles } from '../helpers/checkpoints';

describe('checkpoints', () => {
  it('reads a sharded checkpoint through its index, with config', async () => {
    const c = await Checkpoint.open(new MapModelFolder('m', tinyModelFiles({ seed: 1, shards: 3 })));
    expect(c.shards.length).toBe(3);
    expect(c.tensors.size).toBe(27);
    expect(c.config!.architecture).toBe('Qwen2ForCausalLM');
    expect(c.config!.numKvHeads).toBe(1);
    expect(c.config!.tieWordEmbeddings).toBe(false);
    expect(estimateParameters(c.config!)).toBe(
      [...c.tensors.values()].reduce((n, t) => n + t.byteLength / 4, 0) - 2 * 2 * 8,
    );
    expect(c.warnings).toEqual([]);
  });

  it('reports missing shards as an error and unreferenced shards as a warning', async () => {
    const files = tinyModelFiles({ seed: 1, shards: 2 });
    const extra = new Map(files);
    extra.set('model-stray.safetensors', files.get('model-00001-of-00002.safetensors')!);
    expect((await Checkpoint.open(new MapModelFolder('m', extra))).warnings.join()).toMatch(
      /not referenced.*model-stray/,
    );
    files.delete('model-00002-of-00002.safetensors');
    const err = await Checkpoint.open(new MapModelFolder('m', files)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.code).toBe('missing-shard');
    expect(err.message).toMatch(/m\/model\.safetensors\.index\.json.*model-00002-of-00002/);
  });

  it('rejects a broken config.json naming the file and key', async () => {
    const files = tinyModelFiles({ seed: 1 });
    files.set('config.json', new TextEncoder().encode('{"hidden_size": "big"}'));
    await expect(Checkpoint.open(new MapModelFolder('m', files))).rejects.toThrow(
      /m\/config\.json: 'hidden_size' must be a number/,
    );
  });
});
