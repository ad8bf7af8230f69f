/**
 * issue 19: passthrough with mergekit's `slices`: the output's layers are the slices' layer ranges
 * in order (renumbered), bytes copied (× scale), embeddings from the first slice's model, final
 * norm and lm_head from the last's, config.json's num_hidden_layers the new count; slices naming
 * layers a model lacks, or models of other architectures, are refused naming the model and range,
 * with nothing written.
 */
import { describe, expect, it } from 'vitest';
import { decodeToF32 } from '../../src/core/dtype';
import { RecipeError } from '../../src/core/errors';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../src/core/io/byte-source';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { merge } from '../../src/core/merge/execute';
import { exportRecipe, parseRecipe } from '../../src/core/recipe/parse';
import { otherArchitecture, runSlices, sliceModels } from '../helpers/passthrough-cases';
import { runMerge } from '../helpers/merge-harness';

const bytesOf = async (c: Checkpoint, name: string) => Buffer.from(await c.tensor(name)!.file.readRange(name));
const valuesOf = async (c: Checkpoint, name: string) =>
  decodeToF32(await c.tensor(name)!.file.readRange(name), c.tensor(name)!.dtype);

describe('passthrough with slices', () => {
  it('stacks the slices’ layers, renumbered; scale multiplies; pre/post weights from the first/last model', async () => {
    const [a, b] = await sliceModels();
    const r = await runSlices();
    const out = await Checkpoint.open(new MapModelFolder('out', r.out.files));
    expect(out.config?.numLayers).toBe(4);
    const layer = (c: Checkpoint, l: number) => [...c.tensors.keys()].filter((n) => n.startsWith(`model.layers.${l}.`));
    expect([...out.tensors.keys()].filter((n) => /layers\.4\./.test(n))).toEqual([]);
    for (const [o, src, l, scale] of [
      [0, a!, 0, 1],
      [1, a!, 1, 1],
      [2, b!, 1, 0.5],
      [3, b!, 2, 0.5],
    ] as const) {
      const names = layer(src, l);
      expect(layer(out, o).length, `layer ${o}`).toBe(names.length);
      for (const n of names) {
        const outName = n.replace(`layers.${l}.`, `layers.${o}.`);
        const want = await valuesOf(src, n);
        const got = await r.tensor(outName);
        expect([...got], outName).toEqual([...want].map((v) => Math.fround(v * scale)));
      }
    }
    expect(
      (await bytesOf(out, 'model.embed_tokens.weight')).equals(await bytesOf(a!, 'model.embed_tokens.weight')),
    ).toBe(true);
    const scaled = async (n: string) => [...(await valuesOf(b!, n))].map((v) => Math.fround(v * 0.5));
    expect([...(await r.tensor('model.norm.weight'))]).toEqual(await scaled('model.norm.weight'));
    expect([...(await r.tensor('lm_head.weight'))]).toEqual(await scaled('lm_head.weight'));
  });

  it('without slices, one model passes through (× scale)', async () => {
    const [a] = await sliceModels();
    const r = await runMerge('merge_method: passthrough\nmodels: [{model: a, parameters: {scale: 2}}]', [a!]);
    const w = 'model.layers.1.mlp.up_proj.weight';
    expect([...(await r.tensor(w))]).toEqual([...(await valuesOf(a!, w))].map((v) => v * 2));
  });

  it('a layer range a model lacks is refused naming the model and the range; nothing is written', async () => {
    const { recipe } = parseRecipe(
      'merge_method: passthrough\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}]\n  - sources: [{model: b, layer_range: [2, 9]}]',
    );
    const out = new MemoryOutputFolder();
    const sources = new Map((await sliceModels()).map((c) => [c.name, c]));
    const err = await merge(recipe, sources, new CpuBackend(), out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecipeError);
    expect((err as RecipeError).field).toBe('slices[1].sources[0].layer_range');
    expect((err as RecipeError).message).toMatch(
      /model 'b' has 3 layers \(0–2\); layer_range \[2, 9\] asks for layers 2–8/,
    );
    expect(out.files.size).toBe(0);
  });

  it('models of another architecture are refused naming the model; nothing is written', async () => {
    const { recipe } = parseRecipe(
      'merge_method: passthrough\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}]\n  - sources: [{model: c, layer_range: [0, 1]}]',
    );
    const out = new MemoryOutputFolder();
    const [a] = await sliceModels();
    const sources = new Map([
      ['a', a!],
      ['c', await otherArchitecture('c')],
    ]);
    const err = await merge(recipe, sources, new CpuBackend(), out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecipeError);
    expect((err as RecipeError).field).toBe('slices[1].sources[0].model');
    expect((err as RecipeError).message).toMatch(/'c' is LlamaForCausalLM, 'a' is Qwen2ForCausalLM/);
    expect(out.files.size).toBe(0);
  });

  it('parses and exports slices as mergekit writes them; refuses them elsewhere', () => {
    const { recipe } = parseRecipe(
      'merge_method: passthrough\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}]\n  - sources: [{model: b, layer_range: [1, 3], parameters: {scale: 0.5}}]',
    );
    expect(recipe.models.map((m) => m.model)).toEqual(['a', 'b']);
    const again = parseRecipe(exportRecipe(recipe)).recipe;
    expect(again.slices).toEqual(recipe.slices);
    expect(() => parseRecipe('merge_method: linear\nslices: [{sources: [{model: a, layer_range: [0, 1]}]}]')).toThrow(
      /passthrough only/,
    );
    expect(() =>
      parseRecipe(
        'merge_method: passthrough\nslices: [{sources: [{model: a, layer_range: [0, 1]}, {model: b, layer_range: [0, 1]}]}]',
      ),
    ).toThrow(/exactly one source per slice/);
    expect(() =>
      parseRecipe('merge_method: passthrough\nslices: [{sources: [{model: a, layer_range: [3, 1]}]}]'),
    ).toThrow(/0 ≤ start < end/);
    expect(() => parseRecipe('merge_method: frankenmerge\nmodels: [{model: a}]')).toThrow(/passthrough/);
  });
});
