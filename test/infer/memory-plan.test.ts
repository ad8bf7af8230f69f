/**
 * The memory plan (src/infer/memory-plan.ts) on the real Qwen2.5 0.5B, 1.5B and 7B shapes, parsed
 * from their config.json fields: parameter counts, bytes, and the verdicts on wasm and on a WebGPU
 * adapter with 8 GB of device memory.
 */
import { describe, expect, it } from 'vitest';
import {
  GIB,
  planAllFormats,
  planInferenceMemory,
  type PlanRequest,
  type PlanTarget,
  WASM_OVERHEAD_BYTES,
} from '../../src/infer/memory-plan';
import { QWEN_05B_FIELDS, QWEN_15B_FIELDS, QWEN_7B_FIELDS, qwen } from './shapes';

const QWEN_05B = qwen(QWEN_05B_FIELDS);
const QWEN_15B = qwen(QWEN_15B_FIELDS);
const QWEN_7B = qwen(QWEN_7B_FIELDS);

const WASM: PlanTarget = { kind: 'wasm' };
const gpu = (bindingBytes: number, deviceMemoryBytes = 8e9): PlanTarget => ({
  kind: 'webgpu',
  maxBufferSize: 4 * GIB,
  maxStorageBufferBindingSize: bindingBytes,
  deviceMemoryBytes,
});
const GPU_8GB = gpu(GIB);
const plan = (model: PlanRequest['model'], name: string, rest: Omit<PlanRequest, 'model' | 'name'>) =>
  planInferenceMemory({ model, name, ...rest });

describe('memory plan: parameters and bytes', () => {
  it('counts the known parameter totals of the three shapes (within 1%)', () => {
    const params = (m: PlanRequest['model']) =>
      planInferenceMemory({ model: m, weights: 'f32', tokenBudget: 1, target: WASM }).components.weights.parameters;
    expect(params(QWEN_05B) / 0.494e9).toBeCloseTo(1, 2);
    expect(params(QWEN_15B) / 1.54e9).toBeCloseTo(1, 2);
    expect(params(QWEN_7B) / 7.62e9).toBeCloseTo(1, 2);
    // exact, with q/k/v biases: 494,032,768 and 1,543,714,304 and 7,615,616,512
    expect([params(QWEN_05B), params(QWEN_15B), params(QWEN_7B)]).toEqual([494032768, 1543714304, 7615616512]);
  });

  it('hand-worked: the 1.5B shape in q4 (blocks of 32) with 10,240 tokens and an f32 KV cache on wasm', () => {
    const p = plan(QWEN_15B, 'Qwen2.5-1.5B-shaped', {
      weights: 'q4',
      tokenBudget: 10240,
      kvDtype: 'f32',
      target: WASM,
    });
    expect(p.kvDtype).toBe('f32');
    // One layer, every linear weight at 0.5 byte + 4 bytes per 32 weights = 0.625 byte/weight:
    //   q, o 1536·1536 → 1,474,560 each; k, v 256·1536 → 245,760 each; gate, up, down 8960·1536 → 8,601,600 each
    //   = 29,245,440; norms 2·1536 and biases 1536 + 2·256 in f32: 20,480 → 29,265,920 per layer
    // 28 layers 819,445,760 + final norm 6,144 + the q4 embedding 151936·1536·0.625 = 145,858,560
    //   + the tied lm_head's copy of its packed bytes 151936·1536·0.5 = 116,686,848 → 1,081,997,312
    expect(p.components.weights.bytes).toBe(1081997312);
    // KV cache: 2 · 28 layers · 2 heads · 128 · 10,240 tokens · 4 bytes = 587,202,560
    expect(p.components.kvCache.bytes).toBe(587202560);
    // activations for a 1,024-token prompt (f32): hidden 4·1024·1536 + q/k/v 1024·16·128 + MLP 3·1024·8960
    //   + probabilities 12·1024·1024 + logits 151936, times 4 bytes = 194,594,304
    expect(p.components.activations.bytes).toBe(194594304);
    const [session, generation] = p.checks;
    expect(session!.needBytes).toBe(2 * 1081997312 + WASM_OVERHEAD_BYTES); // 2.43 GB ≤ 4 GiB
    expect(generation!.needBytes).toBe(1081997312 + 2 * 587202560 + 194594304 + WASM_OVERHEAD_BYTES); // 2.72 GB
    expect(p.fits).toBe(true);
    expect(p.advice).toBeUndefined();
  });

  it('the KV cache defaults to f32 with f32 weights and to f16 (2 bytes per element) with f16 and q4', () => {
    const kv = (weights: PlanRequest['weights'], kvDtype?: 'f32' | 'f16') =>
      plan(QWEN_15B, 'x', { weights, tokenBudget: 10240, target: WASM, ...(kvDtype && { kvDtype }) });
    // 2 · 28 layers · 2 heads · 128 · 10,240 tokens · 2 bytes = 293,601,280 (f16); one layer's key 5,242,880
    expect(kv('f32').kvDtype).toBe('f32');
    expect(kv('f32').components.kvCache.bytes).toBe(587202560);
    for (const weights of ['f16', 'q4'] as const) {
      const p = kv(weights);
      expect(p.kvDtype).toBe('f16');
      expect(p.components.kvCache).toEqual({
        bytes: 293601280,
        perLayer: { name: 'present.*.key', bytes: 5242880 },
      });
    }
    expect(kv('f32', 'f16').components.kvCache.bytes).toBe(293601280);
    expect(kv('q4', 'f32').components.kvCache.bytes).toBe(587202560);
    // the generation check counts the f16 cache twice (past and present), at its 2 bytes
    const q4 = kv('q4');
    expect(q4.checks[1]!.needBytes).toBe(1081997312 + 2 * 293601280 + 194594304 + WASM_OVERHEAD_BYTES);
  });
});

describe('memory plan: verdicts on wasm (4 GiB heap)', () => {
  it('0.5B fits in every format with 10,240 tokens, f32 included', () => {
    const plans = planAllFormats({ model: QWEN_05B, tokenBudget: 10240, target: WASM });
    expect(plans.map((p) => [p.format, p.fits])).toEqual([
      ['f32', true],
      ['f16', true],
      ['q4', true],
    ]);
    expect(plans[0]!.warnings).toEqual([]);
  });

  it('1.5B does not fit in f32 nor f16; the sentence names q4 with the full 10,240 tokens', () => {
    const f32 = plan(QWEN_15B, 'Qwen2.5-1.5B-shaped', { weights: 'f32', tokenBudget: 10240, target: WASM });
    expect(f32.fits).toBe(false);
    expect(f32.checks.find((c) => !c.fits)!.id).toBe('wasm-session-peak');
    expect(f32.advice).toBe(
      "Qwen2.5-1.5B-shaped weights need 6.2 GB in f32 (12.6 GB while the session is created), over wasm's 4 GiB" +
        ' heap; q4 (blocks of 32) fits with up to 10,240 tokens.',
    );
    // f16 is 3.1 GB of weights: resident it would fit, but not twice over while the session is created
    const f16 = plan(QWEN_15B, 'Qwen2.5-1.5B-shaped', { weights: 'f16', tokenBudget: 10240, target: WASM });
    expect(f16.fits).toBe(false);
    expect(f16.advice).toMatch(/^Qwen2.5-1.5B-shaped weights need 3.1 GB in f16 .*; q4 \(blocks of 32\) fits/);
  });

  it('warns once, in words, when the budget exceeds max_position_embeddings', () => {
    const p = plan(QWEN_15B, 'Qwen2.5-Math-1.5B', { weights: 'q4', tokenBudget: 10240, target: WASM });
    expect(p.warnings).toHaveLength(1);
    expect(p.warnings[0]!.code).toBe('budget-over-max-positions');
    expect(p.warnings[0]!.field).toBe('max_position_embeddings');
    expect(p.warnings[0]!.message).toContain('10,240 exceeds the model');
    expect(p.warnings[0]!.message).toContain('4,096');
  });

  it('a large batch limits the budget: the sentence names the largest budget that fits', () => {
    const p = plan(QWEN_15B, 'Qwen2.5-1.5B-shaped', { weights: 'q4', batch: 6, tokenBudget: 10240, target: WASM });
    expect(p.fits).toBe(false);
    const tokens = Number(/fits with up to ([\d,]+) tokens/.exec(p.advice!)![1]!.replace(/,/g, ''));
    expect(p.advice).toMatch(/; q4 \(blocks of 32\) fits with up to/);
    expect(tokens).toBeLessThan(10240);
    const at = (t: number) => plan(QWEN_15B, 'x', { weights: 'q4', batch: 6, tokenBudget: t, target: WASM }).fits;
    expect([at(tokens), at(tokens + 1)]).toEqual([true, false]);
  });

  it("a batch's activations: one prompt's prefill or B decode rows (prompts prefilled alone), B prompts' prefill when together", () => {
    const at = (batch: number, prefill?: 'alone' | 'together') =>
      plan(QWEN_15B, 'x', {
        weights: 'q4',
        batch,
        tokenBudget: 4096,
        promptTokens: 1024,
        target: WASM,
        ...(prefill && { prefill }),
      }).components.activations;
    const { hiddenSize: H, intermediateSize: I, numHeads: nH, numKvHeads: kvH, headDim: D, vocabSize: V } = QWEN_15B;
    // One layer's f32 buffers: 4 hidden, q/k/v, 3 MLP, the attention probabilities, the logits.
    const bytes = (rows: number, probs: number, logits: number) =>
      4 * (4 * rows * H + rows * (nH + 2 * kvH) * D + 3 * rows * I + probs + logits * V);
    const prefillOne = bytes(1024, nH * 1024 * 1024, 1);
    expect(at(1).bytes).toBe(prefillOne);
    expect(at(8).bytes).toBe(prefillOne); // 8 decode rows against 4,096 keys need less
    expect(at(8, 'together').bytes).toBe(8 * prefillOne);
    expect(at(256).bytes).toBe(bytes(256, 256 * nH * 4096, 256)); // decode rows outgrow one prefill
    expect(at(256).largest.name).toBe('logits [1, V]');
  });

  it('7B fits in no format, and the sentence says so', () => {
    for (const p of planAllFormats({ model: QWEN_7B, name: 'Qwen2.5-7B-shaped', tokenBudget: 10240, target: WASM })) {
      expect(p.fits).toBe(false);
      expect(p.advice).toContain('no format fits, not even q4 (blocks of 32)');
    }
    const q4 = plan(QWEN_7B, 'Qwen2.5-7B-shaped', { weights: 'q4', tokenBudget: 10240, target: WASM });
    // 7.07 G linear weights at 0.625 byte, the q4 embedding and the untied q4 lm_head (0.34 GB each)
    expect(q4.components.weights.bytes / 1e9).toBeCloseTo(4.76, 2);
  });
});

describe('memory plan: verdicts on WebGPU (8 GB device memory)', () => {
  it('0.5B and 1.5B fit in every format with 10,240 tokens and a 1 GiB binding', () => {
    for (const model of [QWEN_05B, QWEN_15B])
      expect(planAllFormats({ model, tokenBudget: 10240, target: GPU_8GB }).map((p) => p.fits)).toEqual([
        true,
        true,
        true,
      ]);
    // the 1.5B embedding in f32 is the largest buffer: 151936 · 1536 · 4 = 933,494,784 bytes < 1 GiB
    const f32 = plan(QWEN_15B, 'x', { weights: 'f32', tokenBudget: 10240, target: GPU_8GB });
    expect(f32.components.weights.largest).toEqual({
      name: 'model.embed_tokens.weight',
      bytes: 933494784,
      dtype: 'f32',
    });
  });

  it('7B: the embedding (152064 · 3584 · 2 = 1.09 GB in f16) exceeds a 1 GiB binding in f32 and f16, not in q4', () => {
    const plans = planAllFormats({
      model: QWEN_7B,
      name: 'Qwen2.5-7B-shaped',
      tokenBudget: 10240,
      kvDtype: 'f16',
      target: GPU_8GB,
    });
    expect(plans.map((p) => [p.format, p.checks.find((c) => c.id === 'weight-binding')!.fits])).toEqual([
      ['f32', false],
      ['f16', false],
      ['q4', true],
    ]);
    const f16 = plans[1]!;
    expect(f16.components.weights.largest).toEqual({
      name: 'model.embed_tokens.weight',
      bytes: 1089994752,
      dtype: 'f16',
    });
    expect(f16.checks.find((c) => c.id === 'weight-binding')!.what).toMatch(
      /^model\.embed_tokens\.weight takes 1\.1 GB in f16, over the adapter's 1 GiB storage-binding/,
    );
    // q4: the packed embedding 152064 · 3584 / 2 = 272,498,688 bytes is the largest buffer; 4.76 GB of weights fit in 8 GB
    const q4 = plans[2]!;
    expect(q4.components.weights.largest).toEqual({
      name: 'model.embed_tokens.weight',
      bytes: 272498688,
      dtype: '4-bit packed',
    });
    expect(q4.fits).toBe(true);
  });

  it('7B with a 2 GiB binding on 7 GB: q4 fits with an f16 KV cache (its default); with an f32 one the budget shrinks', () => {
    const target = gpu(2 * GIB, 7e9);
    const f16kv = plan(QWEN_7B, 'Qwen2.5-7B-shaped', { weights: 'q4', tokenBudget: 10240, kvDtype: 'f16', target });
    expect(f16kv.fits).toBe(true);
    const byDefault = plan(QWEN_7B, 'Qwen2.5-7B-shaped', { weights: 'q4', tokenBudget: 10240, target });
    expect([byDefault.kvDtype, byDefault.fits]).toEqual(['f16', true]);
    expect(byDefault.components).toEqual(f16kv.components);
    const f32kv = plan(QWEN_7B, 'Qwen2.5-7B-shaped', { weights: 'q4', tokenBudget: 10240, kvDtype: 'f32', target });
    expect(f32kv.fits).toBe(false);
    expect(f32kv.checks.find((c) => !c.fits)!.id).toBe('device-memory');
    expect(f32kv.advice).toMatch(
      /of device memory for 10,240 tokens .* over the 7\.0 GB available; q4 \(blocks of 32\) fits with up to 6,723 tokens \(10,240 with an f16 KV cache\)\.$/,
    );
    // f32 and f16 weights (30.5 and 15.2 GB) are over the device memory; q4 fits with its default f16 cache
    const fits = (o: { kvDtype?: 'f32' }) =>
      planAllFormats({ model: QWEN_7B, tokenBudget: 10240, target, ...o }).map((p) => [p.format, p.kvDtype, p.fits]);
    expect(fits({ kvDtype: 'f32' })).toEqual([
      ['f32', 'f32', false],
      ['f16', 'f32', false],
      ['q4', 'f32', false],
    ]);
    expect(fits({})).toEqual([
      ['f32', 'f32', false],
      ['f16', 'f16', false],
      ['q4', 'f16', true],
    ]);
  });

  it('names one layer of KV cache when it exceeds a binding', () => {
    const at = (kvDtype: 'f32' | 'f16') =>
      plan(QWEN_05B, 'x', {
        weights: 'q4',
        batch: 64,
        tokenBudget: 32768,
        kvDtype,
        target: gpu(128 * 2 ** 20),
      }).checks.find((c) => c.id === 'kv-binding')!;
    // 64 · 2 heads · 64 · 32,768 tokens · 4 bytes = 1,073,741,824 bytes per layer's key; half in f16
    expect(at('f32').needBytes).toBe(GIB);
    expect(at('f32').fits).toBe(false);
    expect(at('f16').needBytes).toBe(GIB / 2);
    expect(at('f16').fits).toBe(false);
  });

  it('refuses a bad batch or budget with the field named', () => {
    expect(() => plan(QWEN_05B, 'x', { weights: 'f32', tokenBudget: 0, target: WASM })).toThrow(/tokenBudget/);
    expect(() => plan(QWEN_05B, 'x', { weights: 'f32', batch: 1.5, tokenBudget: 10, target: WASM })).toThrow(/batch/);
  });
});
