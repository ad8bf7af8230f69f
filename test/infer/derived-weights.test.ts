/** The lab-made weight files: byte layout, row-chunked production, file splitting, and packQ4 as the spec. */
import { describe, expect, it } from 'vitest';
import { decodeToF32 } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { packQ4 } from '../../src/core/kernels/q4-pack';
import { DerivedWeights } from '../../src/infer/derived-weights';
import { weightRefs } from '../../src/infer/model';
import { tinyModelFiles } from '../helpers/checkpoints';

const files = tinyModelFiles({ seed: 9, hidden: 64, intermediate: 96, vocab: 40, layers: 1, dtype: 'BF16' });

function plan(ckpt: Checkpoint, maxFileBytes?: number) {
  const d = new DerivedWeights('w', maxFileBytes);
  const ref = weightRefs(ckpt);
  const q = d.q4(ref('model.layers.0.mlp.down_proj.weight')!, 32); // [64, 96]
  const e = d.f16(ref('model.embed_tokens.weight')!);
  const n = d.f32(ref('model.norm.weight')!);
  return { d, q, e, n };
}

describe('DerivedWeights', () => {
  it('writes packQ4 / f16 / f32 bytes at their offsets, the same in row chunks as whole', async () => {
    const ckpt = await Checkpoint.open(new MapModelFolder('t', files));
    const { d, q } = plan(ckpt);
    const whole = await d.materialize(ckpt);
    const chunked = await d.materialize(ckpt, { chunkElements: 100 }); // 1 row of 96 at a time
    expect(chunked).toEqual(whole);
    const t = ckpt.tensor('model.layers.0.mlp.down_proj.weight')!;
    const spec = packQ4(decodeToF32(await t.file.readRange(t.name), t.dtype), 64, 96, 32);
    const file = whole[0]!.data;
    expect(file.subarray(q.packed.offset, q.packed.offset + q.packed.byteLength)).toEqual(spec.packed);
    const scales = new Float32Array(file.slice(q.scales.offset, q.scales.offset + q.scales.byteLength).buffer);
    expect(scales).toEqual(spec.scales);
  });

  it('splits into several files below the limit, each tensor whole and 4-byte aligned', async () => {
    const ckpt = await Checkpoint.open(new MapModelFolder('t', files));
    const { d, q, e, n } = plan(ckpt, 4096);
    expect(d.locations).toEqual(['w.0.bin', 'w.1.bin', 'w.2.bin']);
    for (const t of [q.packed, q.scales, e, n]) expect(t.offset % 4).toBe(0);
    const out = await d.materialize(ckpt);
    expect(out.map((f) => f.data.byteLength).every((b) => b <= 5120)).toBe(true); // e (5120 B) alone
    expect(out.reduce((a, f) => a + f.data.byteLength, 0)).toBe(d.totalBytes);
  });
});
