/** One recipe per merge method, over models base, a, b (GPU parity tests). */
const M = (w: number, d: number, g?: number) =>
  `{weight: ${w}, density: ${d}${g !== undefined ? `, gamma: ${g}` : ''}}`;
export const RECIPES: Record<string, string> = {
  task_arithmetic: `merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7}}, {model: b, parameters: {weight: 0.4}}]\nparameters: {lambda: 0.9}`,
  ties: `merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: ${M(0.6, 0.3)}}, {model: b, parameters: ${M(1, 0.5)}}]`,
  dare_linear: `merge_method: dare_linear\nbase_model: base\nmodels: [{model: a, parameters: ${M(0.5, 0.4)}}, {model: b, parameters: ${M(0.5, 0.7)}}]\nrandom_seed: 11`,
  dare_ties: `merge_method: dare_ties\nbase_model: base\nmodels: [{model: a, parameters: ${M(0.6, 0.5)}}, {model: b, parameters: ${M(0.4, 0.7)}}]\nrandom_seed: 3`,
  breadcrumbs: `merge_method: breadcrumbs\nbase_model: base\nmodels: [{model: a, parameters: ${M(1, 0.6, 0.05)}}, {model: b, parameters: ${M(0.5, 0.5, 0.1)}}]`,
  breadcrumbs_ties: `merge_method: breadcrumbs_ties\nbase_model: base\nmodels: [{model: a, parameters: ${M(1, 0.5, 0.05)}}, {model: b, parameters: ${M(1, 0.5)}}]`,
  linear: `merge_method: linear\nmodels: [{model: base, parameters: {weight: 1}}, {model: a, parameters: {weight: 2}}, {model: b, parameters: {weight: 0.5}}]`,
  slerp: `merge_method: slerp\nbase_model: base\nmodels: [{model: a}]\nparameters: {t: [0.2, 0.8]}`,
};
