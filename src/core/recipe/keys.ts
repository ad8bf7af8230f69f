/**
 * The top-level keys of a recipe, in the order error messages list them, and whether mergekit
 * reads each one. Method parameters (under `parameters`) are described in
 * src/core/merge/methods/parameters.ts.
 */

export interface RecipeKeyDef {
  readonly key: string;
  /** mergekit reads this key; false: a Merge Lab extension. */
  readonly mergekit: boolean;
  readonly description: string;
}

export const RECIPE_KEYS: readonly RecipeKeyDef[] = [
  { key: 'merge_method', mergekit: true, description: 'the merge method (see the methods above)' },
  { key: 'base_model', mergekit: true, description: 'θ₀, the model task vectors are taken against' },
  { key: 'models', mergekit: true, description: 'the models merged, each with its per-model `parameters`' },
  {
    key: 'parameters',
    mergekit: true,
    description: 'top-level parameters; a per-model one here applies to every model',
  },
  { key: 'dtype', mergekit: true, description: 'output dtype: float32, float16 or bfloat16' },
  { key: 'out_dtype', mergekit: true, description: 'output dtype; wins over `dtype`' },
  { key: 'tokenizer_source', mergekit: true, description: '`base` or a model whose tokenizer files are copied' },
  {
    key: 'random_seed',
    mergekit: false,
    description: 'seed of the DARE masks (default 0); mergekit takes `--random-seed`',
  },
  { key: 'vocab_policy', mergekit: false, description: "`error` (default) or `base`: keep the base's embedding rows" },
  { key: 'aim', mergekit: false, description: 'activation-informed merging after the method: `{omega, calibration}`' },
  {
    key: 'sens',
    mergekit: false,
    description:
      'Sens-Merging per-layer weights on sens_merging, task_arithmetic, ties, dare_linear, dare_ties: `{statistics: {model: file}, temperature: 1, sensitivity: elementwise|tensorwise, cross_task: distance|inverse|uniform, grouping: blocks_and_extras|blocks_only}` (defaults first); export compiles it',
  },
  {
    key: 'slices',
    mergekit: true,
    description: 'passthrough only: the output layers as `[{sources: [{model, layer_range: [start, end]}]}]`',
  },
  { key: 'name', mergekit: true, description: 'a label for the recipe (mergekit-multi names its stages with it)' },
];

/** Layer surgery: mergekit keys Merge Lab rejects with a pointer to `models`. */
export const SURGERY_KEYS: readonly string[] = ['modules'];
