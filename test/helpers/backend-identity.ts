/** For comparing backends merge by merge: one recipe per method, and a fast byte comparison. */

/** Index of the first differing byte, or -1 (vitest's toEqual on megabytes of bytes is far too slow). */
export function firstDifference(a: Uint8Array | undefined, b: Uint8Array | undefined): number {
  if (!a || !b) return 0;
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)))
    return -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return Math.min(a.length, b.length);
}

/** One recipe per merge method over models `base`, `a` and `b`. */
export const ALL_METHOD_RECIPES: Record<string, string> = {
  linear:
    'merge_method: linear\nmodels: [{model: base, parameters: {weight: 0.2}}, {model: a, parameters: {weight: 0.5}}, {model: b, parameters: {weight: 0.3}}]',
  task_arithmetic:
    'merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7}}, {model: b, parameters: {weight: 0.4}}]',
  ties: 'merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.3}}, {model: b, parameters: {weight: 0.5, density: 0.5}}]\nparameters: {lambda: 0.9}',
  dare_linear:
    'merge_method: dare_linear\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.4}}, {model: b, parameters: {weight: 0.5, density: 0.7}}]\nrandom_seed: 3',
  dare_ties:
    'merge_method: dare_ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.4}}, {model: b, parameters: {weight: 0.5, density: 0.7}}]\nrandom_seed: 3',
  breadcrumbs:
    'merge_method: breadcrumbs\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.5, gamma: 0.1}}, {model: b, parameters: {weight: 0.5, density: 0.4, gamma: 0.05}}]',
  breadcrumbs_ties:
    'merge_method: breadcrumbs_ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.5, gamma: 0.1}}, {model: b, parameters: {weight: 0.5, density: 0.4, gamma: 0.05}}]',
  della:
    'merge_method: della\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.5, epsilon: 0.1}}, {model: b, parameters: {weight: 0.5, density: 0.4, epsilon: 0.2}}]\nrandom_seed: 5',
  della_linear:
    'merge_method: della_linear\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 0.5, epsilon: 0.1}}, {model: b, parameters: {weight: 0.5, density: 0.4, epsilon: 0.2}}]\nparameters: {rescale: false}\nrandom_seed: 5',
  sce: 'merge_method: sce\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {select_topk: 0.5}',
  model_stock:
    'merge_method: model_stock\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {filter_wise: true}',
  nuslerp:
    'merge_method: nuslerp\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.4}}, {model: b, parameters: {weight: 0.6}}]\nparameters: {nuslerp_flatten: false}',
  multislerp:
    'merge_method: multislerp\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.4}}, {model: b, parameters: {weight: 0.6}}]',
  karcher: 'merge_method: karcher\nmodels: [{model: base}, {model: a}, {model: b}]\nparameters: {max_iter: 5}',
  nearswap: 'merge_method: nearswap\nbase_model: base\nmodels: [{model: a}]\nparameters: {t: 0.01}',
  arcee_fusion: 'merge_method: arcee_fusion\nbase_model: base\nmodels: [{model: a}]',
  ram: 'merge_method: ram\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {epsilon: 0.01}',
  ramplus_tl:
    'merge_method: ramplus_tl\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {epsilon: 0.01, r: 0.3}',
  passthrough:
    'merge_method: passthrough\nslices:\n  - sources: [{model: a, layer_range: [0, 1]}]\n  - sources: [{model: b, layer_range: [0, 1], parameters: {scale: 0.5}}]',
  slerp: 'merge_method: slerp\nbase_model: base\nmodels: [{model: base}, {model: a}]\nparameters: {t: 0.3}',
  tsv: 'merge_method: tsv\nbase_model: base\nmodels: [{model: a}, {model: b, parameters: {weight: 0.5}}]\nparameters: {rank: 4}',
  iso_c: 'merge_method: iso_c\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {lambda: 1.3}',
  iso_cts:
    'merge_method: iso_cts\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {common_fraction: 0.6}',
  lore: 'merge_method: lore\nmodels: [{model: a}, {model: b}]\nparameters: {mu: 0.1, iterations: 2}',
  twin: 'merge_method: twin\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7}}, {model: b, parameters: {weight: 0.3}}]\nparameters: {rank: 3}',
  low_rank_task_arithmetic:
    'merge_method: low_rank_task_arithmetic\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {energy: 0.8, rank: 12}',
};
