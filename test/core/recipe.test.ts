import { describe, expect, it } from 'vitest';
import { RecipeError } from '../../src/core/errors';
import { emitRecipe, parseRecipe } from '../../src/core/recipe/parse';
import { evaluateSetting, layerPosition } from '../../src/core/recipe/resolve';

// The paper's two headline recipes (Wu et al. 2025), System 1 as the base.
export const PAPER_TA = `
merge_method: task_arithmetic
base_model: quick
models:
  - model: slow
    parameters:
      weight: 0.7
dtype: float32
`;
export const PAPER_TIES = `
merge_method: ties
base_model: quick
models:
  - model: slow
    parameters:
      weight: 1.0
      density: 0.2
parameters:
  lambda: 1.0
dtype: float32
`;

function fieldOf(yaml: string): string {
  try {
    parseRecipe(yaml);
  } catch (e) {
    expect(e).toBeInstanceOf(RecipeError);
    return (e as RecipeError).field;
  }
  throw new Error('expected a RecipeError');
}

describe('recipes', () => {
  it('loads the paper recipes', () => {
    const ta = parseRecipe(PAPER_TA).recipe;
    expect(ta.mergeMethod).toBe('task_arithmetic');
    expect(ta.baseModel).toBe('quick');
    expect(ta.models[0]!.parameters.weight).toBe(0.7);
    expect(ta.dtype).toBe('F32');
    const ties = parseRecipe(PAPER_TIES).recipe;
    expect(ties.models[0]!.parameters.density).toBe(0.2);
    expect(ties.parameters.lambda).toBe(1);
  });

  it('round-trips YAML without changing meaning', () => {
    const src = `
merge_method: dare_ties
base_model: a
models:
  - model: a
  - model: b
    parameters:
      weight: [0.2, 0.8, 0.5]
      density:
        - filter: self_attn
          value: 0.3
        - value: 0.6
  - model: c
    parameters: { weight: 0.5, density: 0.5 }
parameters:
  normalize: true
  lambda: 0.9
dtype: bfloat16
tokenizer_source: base
random_seed: 42
`;
    const r1 = parseRecipe(src).recipe;
    const text = emitRecipe(r1);
    expect(text).toContain('weight: [ 0.2, 0.8, 0.5 ]');
    expect(parseRecipe(text).recipe).toEqual(r1);
    expect(r1.randomSeed).toBe(42);
  });

  it('names the offending field', () => {
    expect(fieldOf('merge_method: magic\nmodels: [{model: a}]')).toBe('merge_method');
    expect(fieldOf('merge_method: ties\nmodels: [{model: b, parameters: {weight: 1}}]')).toBe('base_model');
    expect(
      fieldOf('merge_method: ties\nbase_model: a\nmodels: [{model: b, parameters: {weight: 1, density: 1.5}}]'),
    ).toBe('models[0].parameters.density');
    expect(fieldOf('merge_method: task_arithmetic\nbase_model: a\nmodels: [{model: b}]')).toBe(
      'models[0].parameters.weight',
    );
    expect(fieldOf('merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\ndtype: float8')).toBe('dtype');
    expect(fieldOf('merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]')).toBe('parameters.t');
    expect(fieldOf('merge_method: linear\nmodels: []')).toBe('models');
    expect(fieldOf('merge_method: linear\nslices: []')).toBe('slices');
    expect(fieldOf('merge_method: linear\nmodels: [{model: a, parameters: {weight: x}}]')).toBe(
      'models[0].parameters.weight',
    );
    expect(
      fieldOf('merge_method: ties\nbase_model: a\nmodels: [{model: b, parameters: {weight: 1}}]\nrandom_seed: -1'),
    ).toBe('random_seed');
    expect(fieldOf('::: not yaml: [')).toBe('(yaml)');
  });

  it('resolves gradients and filters per tensor as mergekit does', () => {
    expect(evaluateSetting([0, 1], 'x', 0.25)).toBeCloseTo(0.25);
    expect(evaluateSetting([0.2, 0.8, 0.5], 'x', 0.75)).toBeCloseTo(0.65);
    expect(evaluateSetting([0.2, 0.8, 0.5], 'x', 1)).toBeCloseTo(0.5);
    const f = [{ filter: 'self_attn', value: 0.3 }, { value: [0, 1] }];
    expect(evaluateSetting(f, 'model.layers.1.self_attn.q_proj.weight', 0.5)).toBe(0.3);
    expect(evaluateSetting(f, 'model.layers.1.mlp.up_proj.weight', 0.5)).toBeCloseTo(0.5);
    expect(evaluateSetting([{ filter: 'mlp', value: 1 }], 'lm_head.weight', 1)).toBeUndefined();
    expect(layerPosition('model.layers.3.mlp.up_proj.weight', 4)).toBe(1);
    expect(layerPosition('model.layers.1.mlp.up_proj.weight', 5)).toBe(0.25);
    expect(layerPosition('model.embed_tokens.weight', 4)).toBe(0);
    // mergekit evaluates every tensor outside the layers (final norm, lm_head) at t = 0, and a lone layer at t = 1.
    expect(layerPosition('lm_head.weight', 4)).toBe(0);
    expect(layerPosition('model.norm.weight', 4)).toBe(0);
    expect(layerPosition('model.layers.0.mlp.up_proj.weight', 1)).toBe(1);
  });
});
