/**
 * f16 compute on the WebGPU EP in Node (Dawn on lavapipe, which offers `shader-f16`): f16 weights
 * run their projections as f16 Gemms while the residual stream, RMSNorm, rotary, softmax and the
 * logits stay f32. Checked against the plain-TS reference over the f16-rounded weights, on a long
 * prompt (past max_position_embeddings) and on a model whose residual stream is far past f16's
 * range: finite logits and the greedy tokens of f32 compute. The f16 KV cache lives in GPU buffers
 * as float16 and gives wasm's tokens. Without an adapter offering shader-f16 this test FAILS. Slow on a CPU Vulkan driver.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { ChatModel } from '../../src/infer/engine';
import { generate } from '../../src/infer/generate';
import { pastKey } from '../../src/infer/graph';
import { CausalLM, type LoadOptions } from '../../src/infer/model';
import { probeWebGpu } from '../../src/infer/runtime';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { type RawTensor, encodeSafetensors, tinyModelFiles } from '../helpers/checkpoints';
import { TINY, tinyCkpt } from './fixtures';
import { maxAbsDiff, referenceLogits } from './reference';
import { computedWeights } from './weight-reference';

const adapter = nodeRuntimeAdapter();
const probe = await probeWebGpu(adapter);
if (!probe.ok)
  throw new Error(`no WebGPU adapter for the f16 compute test: ${probe.reason}. Run \`bash scripts/setup-vulkan.sh\``);
if (!probe.shaderF16) throw new Error(`the WebGPU adapter (${probe.adapter}) does not offer shader-f16`);

/** Max |Δlogit| of f16 compute against the reference over the f16-rounded weights (f64 arithmetic). */
const F16_COMPUTE_TOLERANCE = 5e-2;
const QUICK = 'public/models/demo-quick';

const opened: { release(): Promise<void> }[] = [];
afterAll(async () => {
  for (const o of opened) await o.release();
});
async function load(ckpt: Checkpoint, opts: LoadOptions): Promise<CausalLM> {
  const lm = await CausalLM.fromCheckpoint(ckpt, { ep: 'webgpu', adapter, ...opts });
  opened.push(lm);
  return lm;
}
const finite = (v: Float32Array) => v.every((x) => Number.isFinite(x));
const argmaxRows = (logits: Float32Array, V: number) =>
  Array.from({ length: logits.length / V }, (_, r) => {
    const row = logits.subarray(r * V, (r + 1) * V);
    return row.reduce((best, x, i) => (x > row[best]! ? i : best), 0);
  });

/** The checkpoint with its embedding scaled so that its largest entry is `target` (the residual stream follows). */
async function withEmbeddingScaledTo(ckpt: Checkpoint, target: number): Promise<Checkpoint> {
  const tensors: RawTensor[] = [];
  for (const [name, t] of ckpt.tensors) {
    let v = decodeToF32(await t.file.readRange(name), t.dtype);
    if (name === 'model.embed_tokens.weight') {
      const max = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      v = v.map((x) => (x * target) / max);
    }
    tensors.push({ name, dtype: 'F32', shape: [...t.shape], bytes: encodeFromF32(v, 'F32') });
  }
  const files = new Map<string, Uint8Array>([
    ['config.json', new TextEncoder().encode(JSON.stringify(ckpt.config!.raw))],
    ['model.safetensors', encodeSafetensors(tensors, { format: 'pt' })],
  ]);
  return Checkpoint.open(new MapModelFolder(`${ckpt.name}-loud`, files));
}

describe('f16 compute on the WebGPU EP (Node, Dawn)', () => {
  it(
    'demo-quick: auto picks f16 compute; logits = reference over the f16 weights within the tolerance',
    { timeout: 600_000 },
    async () => {
      const folder = new FsModelFolder(QUICK);
      opened.push({ release: () => folder.close() });
      const ckpt = await Checkpoint.open(folder);
      const lm = await load(ckpt, { weights: 'f16', allLogits: true });
      expect([lm.ep.ep, lm.graph.compute, lm.graph.kvCache]).toEqual(['webgpu', 'f16', 'f16']);
      expect(lm.plan.summary).toMatch(/^plan: f16, f16 compute on webgpu: .* KV cache [\d.]+ MB in f16 for/);
      const ids = [579, 17, 5, 42, 9, 1, 300, 77, 8, 250, 31, 120, 4, 66, 501, 13];
      const out = await lm.forward(ids);
      lm.releaseCache(out.cache);
      const ref = await referenceLogits(await computedWeights(ckpt, 'f16'), ids);
      const diff = maxAbsDiff(out.logits, ref);
      const scale = ref.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      console.log(
        `f16 compute vs reference (f16 weights): max |Δlogit| ${diff.toExponential(2)} (max |logit| ${scale.toFixed(1)}; ${lm.ep.adapter})`,
      );
      expect(diff).toBeLessThan(F16_COMPUTE_TOLERANCE);
      expect(argmaxRows(out.logits, lm.spec.vocab)).toEqual(argmaxRows(Float32Array.from(ref), lm.spec.vocab));
    },
  );

  it(
    'a 600-token prompt (past max_position_embeddings 512): finite logits and the greedy tokens of f32 compute; the f16 cache stays on the GPU',
    { timeout: 600_000 },
    async () => {
      const text = 'Tom has 47 coins. He finds 42 more and gives 5 to Ann. How many coins does he have now? ';
      const runs = [];
      for (const compute of ['f16', 'f32'] as const) {
        const m = await ChatModel.load(new FsModelFolder(QUICK), {
          ep: 'webgpu',
          adapter,
          weights: 'f16',
          compute,
          tokenBudget: 640,
        });
        opened.push(m);
        expect(m.lm.graph.compute).toBe(compute);
        let ids = m.tokenizer.encode(text.repeat(20));
        ids = ids.slice(0, 600);
        expect(ids).toHaveLength(600);
        const prefill = await m.lm.forward(ids);
        expect(finite(prefill.logits)).toBe(true);
        const kv = prefill.cache.tensors.get(pastKey(0))!;
        expect([kv.type, kv.location, kv.dims[2]]).toEqual(['float16', 'gpu-buffer', 600]);
        m.lm.releaseCache(prefill.cache);
        const g = await generate(m.lm, ids, { maxNewTokens: 8 });
        runs.push({ logits: prefill.logits, ids: g.ids });
      }
      const [f16, f32] = runs;
      const diff = maxAbsDiff(f16!.logits, f32!.logits);
      console.log(
        `600-token prompt: f16 vs f32 compute max |Δlogit| ${diff.toExponential(2)}; greedy ${f32!.ids.join(',')}`,
      );
      expect(f16!.ids).toEqual(f32!.ids);
      expect(diff).toBeLessThan(F16_COMPUTE_TOLERANCE);
    },
  );

  it.each([
    ['gqa', { seed: 41, hidden: 32 }],
    ['onnx', { seed: 42 }],
  ] as const)(
    'the f16 KV cache on WebGPU (%s attention): float16 GPU buffers, the greedy tokens and logits of wasm',
    { timeout: 600_000 },
    async (attention, o) => {
      const ckpt = await tinyCkpt({ ...TINY, ...o });
      const gpu = await load(ckpt, { kvCache: 'f16' });
      const cpu = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter, kvCache: 'f16' });
      opened.push(cpu);
      expect(gpu.graph.attention).toBe(attention);
      const prompt = [3, 17, 0, 39, 8, 8, 21];
      const [a, b] = [
        await generate(cpu, prompt, { maxNewTokens: 10 }),
        await generate(gpu, prompt, { maxNewTokens: 10 }),
      ];
      expect(b.ids).toEqual(a.ids);
      const [pa, pb] = [await cpu.forward(prompt), await gpu.forward(prompt)];
      let [ca, cb] = [pa.cache, pb.cache];
      let worst = maxAbsDiff(pa.logits, pb.logits);
      for (const id of a.ids) {
        const [sa, sb] = [await cpu.forward([id], ca), await gpu.forward([id], cb)];
        gpu.releaseCache(cb);
        [ca, cb] = [sa.cache, sb.cache];
        worst = Math.max(worst, maxAbsDiff(sa.logits, sb.logits));
      }
      const t = cb.tensors.get(pastKey(1))!;
      expect([t.type, t.location, t.dims[2]]).toEqual(['float16', 'gpu-buffer', prompt.length + a.ids.length]);
      gpu.releaseCache(cb);
      console.log(`f16 KV on WebGPU vs wasm (${attention}): max |Δlogit| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
    },
  );

  it(
    'a residual stream far past f16 range (|x| up to 3000, x² ≫ 65504): finite logits, the reference within the tolerance, the greedy tokens of f32 compute',
    { timeout: 600_000 },
    async () => {
      const base = await Checkpoint.open(
        new MapModelFolder(
          'tiny-66',
          tinyModelFiles({ seed: 66, hidden: 64, intermediate: 128, vocab: 48, layers: 2 }),
        ),
      );
      const loud = await withEmbeddingScaledTo(base, 3000);
      const ids = [3, 17, 5, 42, 9, 1, 30, 7];
      const [f16, f32] = [
        await load(loud, { weights: 'f16', allLogits: true }),
        await load(loud, { weights: 'f16', compute: 'f32', allLogits: true }),
      ];
      expect([f16.graph.compute, f32.graph.compute]).toEqual(['f16', 'f32']);
      const [a, b] = [await f16.forward(ids), await f32.forward(ids)];
      f16.releaseCache(a.cache);
      f32.releaseCache(b.cache);
      expect(finite(a.logits)).toBe(true);
      const ref = await referenceLogits(await computedWeights(loud, 'f16'), ids);
      const diff = maxAbsDiff(a.logits, ref);
      console.log(
        `loud residual: f16 compute vs reference max |Δlogit| ${diff.toExponential(2)}; vs f32 compute ${maxAbsDiff(a.logits, b.logits).toExponential(2)}`,
      );
      expect(diff).toBeLessThan(F16_COMPUTE_TOLERANCE);
      expect(argmaxRows(a.logits, 48)).toEqual(argmaxRows(b.logits, 48));
      const [ga, gb] = [await generate(f16, ids, { maxNewTokens: 6 }), await generate(f32, ids, { maxNewTokens: 6 })];
      expect(ga.ids).toEqual(gb.ids);
    },
  );
});
