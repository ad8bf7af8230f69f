/**
 * The memory plan's KV-cache term (src/infer/kv-plan.ts): bytes per element by dtype, the dtype a
 * plan counts by default for each weight format, and the advice sentence budgeting each format
 * with the cache it would load with.
 */
import { describe, expect, it } from 'vitest';
import { kvCacheTerm, planKvDtype } from '../../src/infer/kv-plan';
import { type PlanTarget, planInferenceMemory } from '../../src/infer/memory-plan';
import { QWEN_15B_FIELDS, qwen } from './shapes';

const QWEN_15B = qwen({ ...QWEN_15B_FIELDS, max_position_embeddings: 32768 });
/** 4 GB of device memory: the 1.5B shape's f32 weights (6.2 GB) do not fit, its f16 ones (3.1 GB) do, for some tokens. */
const GPU_4GB: PlanTarget = {
  kind: 'webgpu',
  maxBufferSize: 2 ** 32,
  maxStorageBufferBindingSize: 2 ** 30,
  deviceMemoryBytes: 4e9,
};

describe('KV-cache term', () => {
  it('counts 4 bytes an element in f32 and 2 in f16, keys and values of every layer', () => {
    // 2 · 28 layers · batch 3 · 2 heads · 128 · 1000 tokens
    expect(kvCacheTerm(QWEN_15B, 3, 1000, 'f32')).toEqual({
      bytes: 2 * 28 * 3 * 2 * 128 * 1000 * 4,
      perLayer: { name: 'present.*.key', bytes: 3 * 2 * 128 * 1000 * 4 },
    });
    expect(kvCacheTerm(QWEN_15B, 3, 1000, 'f16').bytes).toBe(2 * 28 * 3 * 2 * 128 * 1000 * 2);
  });

  it('defaults to the dtype the loader uses for each weight format; an explicit one wins', () => {
    expect([planKvDtype('f32', undefined), planKvDtype('f16', undefined), planKvDtype('q4', undefined)]).toEqual([
      'f32',
      'f16',
      'f16',
    ]);
    expect([planKvDtype('f32', 'f16'), planKvDtype('q4', 'f32')]).toEqual(['f16', 'f32']);
  });

  it('the advice budgets each format with its own default cache, or the one asked for (then names what f16 would reach)', () => {
    const plan = (weights: 'f32' | 'f16', tokenBudget: number, kvDtype?: 'f32' | 'f16') =>
      planInferenceMemory({
        model: QWEN_15B,
        name: '1.5B',
        weights,
        tokenBudget,
        target: GPU_4GB,
        ...(kvDtype && { kvDtype }),
      });
    const largest = (kvDtype: 'f32' | 'f16') => {
      let t = 1024;
      while (plan('f16', t + 1, kvDtype).fits) t++;
      return t;
    };
    const [withF16, withF32] = [largest('f16'), largest('f32')];
    expect(withF16).toBeGreaterThan(withF32);
    const byDefault = plan('f32', 10240);
    expect(byDefault.fits).toBe(false);
    const n = (x: number) => x.toLocaleString('en-US');
    expect(byDefault.advice).toMatch(new RegExp(`; f16 fits with up to ${n(withF16)} tokens\\.$`));
    const asked = plan('f32', 10240, 'f32');
    expect(asked.advice).toMatch(
      new RegExp(`; f16 fits with up to ${n(withF32)} tokens \\(${n(withF16)} with an f16 KV cache\\)\\.$`),
    );
  });
});
