/**
 * f32 graphs mount the shards in segments of whole tensors (src/infer/shard-segments.ts): a shard
 * over the limit becomes several external-data files, none over it, with the logits of one file;
 * sources that read synchronously are mounted in place (no copy of the shard), others copied.
 */
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { CausalLM } from '../../src/infer/model';
import { OnDemandFile } from '../../src/infer/on-demand-weights';
import { segmentData, shardSegments } from '../../src/infer/shard-segments';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { tinyModelFiles } from '../helpers/checkpoints';

const adapter = nodeRuntimeAdapter();
const IDS = [3, 17, 5, 42, 9, 1];
const DEMO = 'public/models/demo-quick';

describe('shard segments (f32 external data)', () => {
  it('a shard over the limit is split at tensor boundaries; each part stays under it', async () => {
    const ckpt = await Checkpoint.open(new FsModelFolder(DEMO));
    const limit = 200_000;
    const { segments, of } = shardSegments(ckpt, limit);
    expect(segments.length).toBeGreaterThan(10);
    const biggest = Math.max(...[...ckpt.tensors.values()].map((t) => t.byteLength));
    for (const seg of segments) expect(seg.size).toBeLessThanOrEqual(Math.max(limit, biggest));
    for (const t of ckpt.tensors.values()) {
      const seg = of.get(t.name)!;
      expect(t.offset).toBeGreaterThanOrEqual(seg.start);
      expect(t.offset + t.byteLength).toBeLessThanOrEqual(seg.start + seg.size);
    }
    // Under the limit the shard is one segment under its own name.
    expect(shardSegments(ckpt).segments.map((s) => s.name)).toEqual(['model.safetensors']);
    await ckpt.folder.close?.();
  });

  it('the split graph gives the logits of the whole shard, mounted in place', async () => {
    const ckpt = await Checkpoint.open(new FsModelFolder(DEMO));
    const run = async (shardSegmentBytes?: number) => {
      const lm = await CausalLM.fromCheckpoint(ckpt, {
        ep: 'wasm',
        adapter,
        ...(shardSegmentBytes && { shardSegmentBytes }),
      });
      const out = (await lm.forward(IDS)).logits;
      await lm.release();
      return { out, locations: lm.graph.locations };
    };
    const whole = await run();
    const split = await run(200_000);
    expect(whole.locations).toEqual(['model.safetensors']);
    expect(split.locations.length).toBeGreaterThan(10);
    expect(split.locations.every((l) => /^model\.safetensors\.part\d+$/.test(l))).toBe(true);
    expect(split.out).toEqual(whole.out);
    const data = await segmentData(shardSegments(ckpt, 200_000).segments);
    expect(data.every((d) => d.data instanceof OnDemandFile)).toBe(true); // Node files read in place
    await ckpt.folder.close?.();
  });

  it('Blobs outside a worker (no synchronous reads) are copied segment by segment', async () => {
    const blobs = new Map(
      [...tinyModelFiles({ seed: 3 })].map(([n, b]) => [n, new Blob([b as Uint8Array<ArrayBuffer>])]),
    );
    const ckpt = await Checkpoint.open(new MapModelFolder('blobs', blobs));
    const data = await segmentData(shardSegments(ckpt).segments);
    expect(data.some((d) => d.data instanceof OnDemandFile)).toBe(false);
    expect(data[0]!.data.byteLength).toBe(ckpt.shards[0]!.source.size);
  });
});
