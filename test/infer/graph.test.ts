/**
 * The generated ONNX graph on the wasm EP against the plain-TS reference forward pass, on tiny
 * random Qwen2-shaped checkpoints (GQA 2 heads / 1 KV head, q/k/v biases), and the KV cache
 * against full recomputation.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { DType } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { ropeInvFreq } from '../../src/infer/architecture';
import { InferError } from '../../src/infer/errors';
import { type AttentionImpl, buildGraph } from '../../src/infer/graph';
import { CausalLM, specOf, weightRefs } from '../../src/infer/model';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { DataType, decodeModel } from '../../src/infer/onnx-proto';
import type { RuntimeAdapter } from '../../src/infer/runtime';
import type { MemoryPlan } from '../../src/infer/memory-plan';
import { TINY, row, tinyCkpt, tinyFiles } from './fixtures';
import { maxAbsDiff, referenceLogits } from './reference';

const adapter = nodeRuntimeAdapter();
const IDS = [3, 17, 0, 39, 8, 8, 21, 5, 12];
/** head_dim 16: GroupQueryAttention needs a multiple of 16 (TINY's head_dim is 8). */
const WIDE = { hidden: 32 };
const loaded: CausalLM[] = [];
async function load(ckpt: Checkpoint, allLogits = true, attention?: AttentionImpl): Promise<CausalLM> {
  const lm = await CausalLM.fromCheckpoint(ckpt, {
    ep: 'wasm',
    allLogits,
    adapter,
    ...(attention ? { attention } : {}),
  });
  loaded.push(lm);
  return lm;
}
afterAll(async () => {
  for (const lm of loaded) await lm.release();
});

describe.each(['onnx', 'gqa'] as const)('graph (%s attention) vs the plain-TS reference (wasm EP)', (attention) => {
  const cases: [string, Parameters<typeof tinyCkpt>[0], Record<string, unknown>?][] = [
    ['Qwen2, untied head, f32', { ...TINY, ...WIDE }],
    ['Qwen2, tied head, f32', { ...TINY, ...WIDE, seed: 12, tied: true }],
    ['Qwen2, f16 weights (Cast in graph)', { ...TINY, ...WIDE, seed: 13, dtype: 'F16' as DType }],
    ['Qwen2, bf16 weights (Cast in graph)', { ...TINY, ...WIDE, seed: 14, dtype: 'BF16' as DType }],
    ['Qwen2, 3 shards (one external-data file each)', { ...TINY, ...WIDE, seed: 15, shards: 3 }],
    [
      'Llama, llama3 rope_scaling, attention_bias',
      { ...TINY, ...WIDE, seed: 16 },
      {
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        attention_bias: true,
        rope_theta: 500000,
        rope_scaling: {
          rope_type: 'llama3',
          factor: 8,
          low_freq_factor: 1,
          high_freq_factor: 4,
          original_max_position_embeddings: 16,
        },
      },
    ],
    [
      'Mistral, sliding_window caps the context',
      { ...TINY, ...WIDE, seed: 17 },
      { architectures: ['MistralForCausalLM'], model_type: 'mistral', attention_bias: true, sliding_window: 32 },
    ],
  ];
  it.each(cases)('%s: logits at every position match (max abs diff < 1e-4)', async (_n, o, cfg) => {
    const ckpt = await tinyCkpt(o, cfg);
    const lm = await load(ckpt, true, attention);
    expect(lm.graph.attention).toBe(attention);
    const { logits, rows } = await lm.forward(IDS);
    const ref = await referenceLogits(ckpt, IDS);
    expect(rows).toBe(IDS.length);
    const diff = maxAbsDiff(logits, ref);
    console.log(`graph (${attention}) vs reference [${_n}]: max abs diff ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
  });

  it('KV cache: prefill, a second multi-token chunk, then one-token steps give the logits of the full sequence', async () => {
    const ckpt = await tinyCkpt({ ...TINY, ...WIDE });
    const V = TINY.vocab!;
    const full = await (await load(ckpt, true, attention)).forward(IDS);
    const lm = await load(ckpt, false, attention);
    const prefill = await lm.forward(IDS.slice(0, 3));
    expect(prefill.rows).toBe(1);
    let worst = maxAbsDiff(prefill.logits, row(full.logits, 2, V));
    const chunk = await lm.forward(IDS.slice(3, 6), prefill.cache); // P = 3, S = 3
    worst = Math.max(worst, maxAbsDiff(chunk.logits, row(full.logits, 5, V)));
    let cache = chunk.cache;
    for (let i = 6; i < IDS.length; i++) {
      const step = await lm.forward([IDS[i]!], cache);
      cache = step.cache;
      expect(cache.length).toBe(i + 1);
      worst = Math.max(worst, maxAbsDiff(step.logits, row(full.logits, i, V)));
    }
    console.log(`KV-cache decode (${attention}) vs full recompute: max abs diff ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
  });
});

describe('attention choice', () => {
  it('defaults to GroupQueryAttention when head_dim allows, standard ops otherwise; both agree', async () => {
    const narrow = await load(await tinyCkpt(TINY));
    expect(narrow.graph.attention).toBe('onnx');
    const wide = await tinyCkpt({ ...TINY, ...WIDE });
    const a = await load(wide);
    const b = await load(wide, true, 'onnx');
    expect(a.graph.attention).toBe('gqa');
    expect(maxAbsDiff((await a.forward(IDS)).logits, (await b.forward(IDS)).logits)).toBeLessThan(1e-5);
    await expect(
      CausalLM.fromCheckpoint(await tinyCkpt(TINY), { ep: 'wasm', adapter, attention: 'gqa' }),
    ).rejects.toThrow(/head_dim % 16 == 0 \(got 8\)/);
  });
  it('the llama3 rope_scaling really changes the frequencies (the test above is not vacuous)', () => {
    const base = { headDim: 8, ropeTheta: 500000, ropeScaling: { type: 'none' } as const };
    const scaled = ropeInvFreq({
      ...base,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16 },
    });
    expect(maxAbsDiff(ropeInvFreq(base), scaled)).toBeGreaterThan(1e-3);
  });
});

describe('context', () => {
  it('refuses to run past the context (max_position_embeddings, or a Mistral sliding window)', async () => {
    const lm = await load(
      await tinyCkpt(
        { ...TINY, seed: 17 },
        { architectures: ['MistralForCausalLM'], model_type: 'mistral', attention_bias: true, sliding_window: 8 },
      ),
      false,
    );
    expect(lm.spec.maxContext).toBe(8);
    await expect(lm.forward(IDS)).rejects.toThrow(/9 tokens exceed the model's context of 8/);
  });
});

describe('graph structure', () => {
  it('weights are external data pointing into the shards at their byte offsets, linear layers are Gemm transB=1', async () => {
    const ckpt = await tinyCkpt({ ...TINY, shards: 2 });
    const g = buildGraph(specOf(ckpt), weightRefs(ckpt));
    const model = decodeModel(g.model);
    const inits = new Map(model.graph.initializer.map((t) => [t.name, t]));
    for (const [name, t] of ckpt.tensors) {
      const init = inits.get(name)!;
      expect(init.dataLocation, name).toBe(1);
      expect(init.rawData ?? new Uint8Array(0)).toHaveLength(0);
      const ext = Object.fromEntries(init.externalData!.map((e) => [e.key, e.value]));
      expect(ext).toEqual({ location: t.file.name, offset: String(t.offset), length: String(t.byteLength) });
    }
    expect(g.model.byteLength).toBeLessThan(64 * 1024); // the graph holds no weights
    const gemms = model.graph.node.filter((n) => n.opType === 'Gemm');
    expect(gemms).toHaveLength(TINY.layers! * 7 + 1);
    for (const n of gemms) expect(n.attribute.find((a) => a.name === 'transB')?.i).toBe(1);
    expect(model.graph.node.some((n) => n.opType === 'MatMul' && n.input.some((i) => i.includes('_proj.weight')))).toBe(
      false,
    );
  });
});

describe('errors', () => {
  it('an unsupported architecture names the supported ones', async () => {
    const ckpt = await tinyCkpt(TINY, { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' });
    const err = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter }).catch((e) => e);
    expect(err).toBeInstanceOf(InferError);
    expect(err.code).toBe('unsupported-architecture');
    expect(err.message).toMatch(/'GPT2LMHeadModel'.*Qwen2ForCausalLM, LlamaForCausalLM, MistralForCausalLM/);
  });

  it.each([
    [{ use_sliding_window: true }, /sliding-window attention/],
    [{ num_local_experts: 8 }, /mixture-of-experts/],
    [
      { rope_scaling: { rope_type: 'yarn', factor: 4 } },
      /rope_scaling type 'yarn' is not supported; supported rope_scaling: none, default, linear, llama3/,
    ],
    [{ hidden_act: 'gelu' }, /hidden_act 'gelu'/],
  ])('unsupported feature %j is refused clearly', async (cfg, msg) => {
    const err = await CausalLM.fromCheckpoint(await tinyCkpt(TINY, cfg), { ep: 'wasm', adapter }).catch((e) => e);
    expect(err).toBeInstanceOf(InferError);
    expect(err.message).toMatch(msg);
  });

  it('a missing weight is named', async () => {
    const files = tinyFiles({ ...TINY, drop: ['model.layers.1.mlp.up_proj.weight'] });
    const ckpt = await Checkpoint.open(new MapModelFolder('dropped', files));
    const err = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter }).catch((e) => e);
    expect(err).toBeInstanceOf(InferError);
    expect(err.code).toBe('missing-weight');
    expect(err.message).toContain("'model.layers.1.mlp.up_proj.weight'");
    expect(err.tensor).toBe('model.layers.1.mlp.up_proj.weight');
  });

  it('an untied config without lm_head.weight names lm_head.weight', async () => {
    const ckpt = await Checkpoint.open(
      new MapModelFolder('nohead', tinyFiles({ ...TINY, tied: true }, { tie_word_embeddings: false })),
    );
    await expect(CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter })).rejects.toThrow(/'lm_head.weight'/);
  });
});

describe('f16 compute', () => {
  /** Which node reads each tensor, and which node writes it. */
  const index = (g: ReturnType<typeof decodeModel>['graph']) => {
    const readers = new Map<string, (typeof g.node)[number][]>();
    const writer = new Map<string, (typeof g.node)[number]>();
    for (const n of g.node) {
      for (const i of n.input) readers.set(i, [...(readers.get(i) ?? []), n]);
      for (const o of n.output) writer.set(o, n);
    }
    return { readers, writer };
  };
  const castTo = (n: { opType: string; attribute: { name: string; i?: number }[] } | undefined) =>
    n?.opType === 'Cast' ? n.attribute.find((a) => a.name === 'to')?.i : undefined;

  it('feeds each f16 projection weight to its Gemm with no Cast between; x is cast to f16 and y back; the head stays f32', async () => {
    const ckpt = await tinyCkpt({ ...TINY, hidden: 32 });
    const built = buildGraph(specOf(ckpt), weightRefs(ckpt), { weights: 'f16', compute: 'f16' });
    expect(built.compute).toBe('f16');
    const g = decodeModel(built.model).graph;
    const { readers, writer } = index(g);
    const projections = g.initializer.filter((t) => t.name.endsWith('_proj.weight'));
    expect(projections).toHaveLength(TINY.layers! * 7);
    for (const w of projections) {
      expect(w.dataType, w.name).toBe(DataType.FLOAT16);
      const [gemm, ...others] = readers.get(w.name)!;
      expect(others, w.name).toEqual([]);
      expect(gemm!.opType, w.name).toBe('Gemm');
      expect(castTo(writer.get(gemm!.input[0]!)), `${w.name}: x cast to f16`).toBe(DataType.FLOAT16);
      expect(readers.get(gemm!.output[0]!)!.map(castTo), `${w.name}: y cast to f32`).toEqual([DataType.FLOAT]);
    }
    // f32 accumulation of the logits: the head is a Gemm over the f32 view of the f16 table
    const head = writer.get('logits')!;
    expect(head.opType).toBe('Gemm');
    expect(castTo(writer.get(head.input[1]!))).toBe(DataType.FLOAT);
    expect(castTo(writer.get(head.input[0]!))).toBeUndefined();
    // the default (and 'f32') keeps today's f16 weights with f32 compute: a Cast to f32 before every Gemm
    for (const compute of [undefined, 'f32', 'auto'] as const) {
      const f32 = decodeModel(buildGraph(specOf(ckpt), weightRefs(ckpt), { weights: 'f16', compute }).model).graph;
      const w = index(f32);
      for (const t of f32.initializer.filter((i) => i.name.endsWith('_proj.weight')))
        expect(w.readers.get(t.name)!.map(castTo), t.name).toEqual([DataType.FLOAT]);
    }
  });

  it('forced on wasm: an InferError naming shader-f16 (field compute), before ORT is loaded', async () => {
    let ortLoads = 0;
    const spy: RuntimeAdapter = { ...adapter, loadOrt: (ep) => (ortLoads++, adapter.loadOrt!(ep)) };
    const ckpt = await tinyCkpt({ ...TINY, hidden: 32 });
    const err = await CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter: spy, weights: 'f16', compute: 'f16' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InferError);
    expect(err).toMatchObject({ code: 'unsupported-feature', field: 'compute' });
    expect((err as Error).message).toMatch(/f16 compute needs 'shader-f16': the wasm EP has no 'shader-f16'/);
    // f16 compute of f32 or q4 weights is a bad option
    for (const weights of ['f32', 'q4'] as const)
      await expect(
        CausalLM.fromCheckpoint(ckpt, { ep: 'wasm', adapter: spy, weights, compute: 'f16' }),
      ).rejects.toMatchObject({ code: 'bad-options', field: 'compute' });
    expect(ortLoads).toBe(0);
  });

  /** A WebGPU whose adapter offers `features` (ORT must never be reached). */
  const gpuOffering = (description: string, features: string[]): RuntimeAdapter => ({
    ...adapter,
    gpu: async () =>
      ({ requestAdapter: async () => ({ info: { description }, features: new Set(features) }) }) as unknown as GPU,
  });

  it('forced on a WebGPU adapter without shader-f16: the same error, naming the adapter, before ORT is loaded', async () => {
    let ortLoads = 0;
    const noF16 = gpuOffering('nvidia test adapter', ['timestamp-query']);
    const spy: RuntimeAdapter = { ...noF16, loadOrt: () => (ortLoads++, Promise.reject(new Error('no ORT'))) };
    const ckpt = await tinyCkpt({ ...TINY, hidden: 32 });
    const err = await CausalLM.fromCheckpoint(ckpt, {
      ep: 'webgpu',
      adapter: spy,
      weights: 'f16',
      compute: 'f16',
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unsupported-feature', field: 'compute' });
    expect((err as Error).message).toMatch(
      /the WebGPU adapter \(nvidia test adapter\) does not offer the 'shader-f16'/,
    );
    // an explicit f16 KV cache there is refused too; the default one stays f32
    const kvErr = await CausalLM.fromCheckpoint(ckpt, { ep: 'webgpu', adapter: spy, kvCache: 'f16' }).catch(
      (e: unknown) => e,
    );
    expect(kvErr).toMatchObject({ code: 'unsupported-feature', field: 'kvCache' });
    expect(ortLoads).toBe(0);
    let planned: MemoryPlan | undefined;
    const byDefault = await CausalLM.fromCheckpoint(ckpt, {
      ep: 'webgpu',
      adapter: spy,
      weights: 'f16',
      onPlan: (p) => (planned = p),
    }).catch((e: unknown) => e);
    expect((byDefault as Error).message).toMatch(/no ORT/); // it got as far as the session
    expect(planned?.kvDtype).toBe('f32');
  });

  it('auto: f32 compute wherever f16 cannot run (auto leaves a CPU-emulated adapter for wasm)', async () => {
    const ckpt = await tinyCkpt({ ...TINY, hidden: 32 });
    const lm = await CausalLM.fromCheckpoint(ckpt, {
      ep: 'auto',
      adapter: gpuOffering('mesa software llvmpipe-llvm-15', ['shader-f16']),
      weights: 'f16',
    });
    loaded.push(lm);
    expect([lm.ep.ep, lm.graph.compute, lm.graph.kvCache]).toEqual(['wasm', 'f32', 'f16']);
    expect(lm.plan.summary).toMatch(/^plan: f16 on wasm: /);
  });
});
