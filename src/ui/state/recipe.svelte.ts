/** The recipe being edited: form controls and the live mergekit YAML view edit the same Recipe. */
import { RecipeError } from '../../core/errors';
import { PARAMETERS, type ParameterDef, type ParameterScope } from '../../core/merge/methods/parameters';
import { METHODS, type MethodSpec, methodParameterNames, parameterDefault } from '../../core/merge/methods/registry';
import { emitRecipe, parseRecipe } from '../../core/recipe/parse';
import type { MergeMethodName, Recipe, RecipeModel, Setting } from '../../core/recipe/types';
import { DEFAULT_SENS_CHOICES } from '../../core/sens/coefficients';
import { SENS_CARRIERS, SENS_METHOD, type SensSettings } from '../../core/sens/settings';

const emptySens = (): SensSettings => ({ ...DEFAULT_SENS_CHOICES, statistics: {} });

export interface Preset {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  build(quick: string, slow: string): Recipe;
}

const base = (
  method: MergeMethodName,
  quick: string,
  models: RecipeModel[],
  parameters: Record<string, Setting> = {},
): Recipe => ({
  mergeMethod: method,
  baseModel: quick,
  models,
  parameters,
  randomSeed: 0,
  vocabPolicy: 'error',
});

/** The paper's settings (Wu et al. 2025, 7B column), System 1 as the base. */
export const PRESETS: readonly Preset[] = [
  {
    id: 'ta',
    label: 'TA α=0.7',
    description: 'Task arithmetic: 0.3·θ_S1 + 0.7·θ_S2',
    build: (q, s) => base('task_arithmetic', q, [{ model: s, parameters: { weight: 0.7 } }]),
  },
  {
    id: 'ties',
    label: 'TIES k=0.8, α=1.0',
    description: 'Trim 80% of |δ| per tensor, elect signs, disjoint mean',
    build: (q, s) => base('ties', q, [{ model: s, parameters: { weight: 1, density: 0.2 } }], { lambda: 1 }),
  },
  {
    id: 'dare',
    label: 'DARE p=0.3',
    description: 'Drop 30% of δ at random, rescale by ‖δ‖₁ / ‖kept δ‖₁ (about 1/0.7), then TA α=0.7',
    build: (q, s) => base('dare_linear', q, [{ model: s, parameters: { weight: 0.7, density: 0.7 } }]),
  },
  {
    id: 'dare_ties',
    label: 'DARE-TIES p=0.3',
    description: 'DARE drop, then TIES sign election',
    build: (q, s) => base('dare_ties', q, [{ model: s, parameters: { weight: 1, density: 0.7 } }], { lambda: 0.7 }),
  },
  {
    id: 'slerp',
    label: 'SLERP t=0.7',
    description: 'Spherical interpolation toward System 2',
    build: (q, s) => base('slerp', q, [{ model: s, parameters: {} }], { t: 0.7 }),
  },
  {
    id: 'tsv',
    label: 'TSV rank 16',
    description: 'Task singular vectors: truncate, whiten, rebuild',
    build: (q, s) => base('tsv', q, [{ model: s, parameters: { weight: 1 } }], { lambda: 0.7, rank: 16 }),
  },
  {
    id: 'iso_c',
    label: 'Iso-C',
    description: 'Flat spectrum of the mean task vector',
    build: (q, s) => base('iso_c', q, [{ model: s, parameters: { weight: 1 } }], { lambda: 0.7 }),
  },
  {
    id: 'lore',
    label: 'LoRE μ=0.1',
    description: 'Low-rank estimation with its own base (coordinate descent)',
    build: (q, s) =>
      base(
        'lore',
        q,
        [
          { model: q, parameters: { weight: 0.3 } },
          { model: s, parameters: { weight: 0.7 } },
        ],
        { mu: 0.1 },
      ),
  },
  {
    id: 'twin',
    label: 'Twin rank 16',
    description: 'TA merge plus rank-r residuals of each model',
    build: (q, s) => base('twin', q, [{ model: s, parameters: { weight: 0.7 } }], { rank: 16 }),
  },
  {
    id: 'low_rank',
    label: 'Low-rank TA 90%',
    description: 'TA with each task vector truncated to 90% of its energy',
    build: (q, s) => base('low_rank_task_arithmetic', q, [{ model: s, parameters: { weight: 0.7 } }], { energy: 0.9 }),
  },
];

/** One control in a method's form: the parameter's row in the table and the method's default for it. */
export interface ParameterControlSpec {
  readonly parameter: ParameterDef;
  readonly fallback: number | boolean | undefined;
}

/** The controls of a method's form, in row order: sliders, then checkboxes. Inert and ignored keys are left out. */
export function parameterControls(
  spec: MethodSpec,
  scope: ParameterScope,
): { numbers: ParameterControlSpec[]; flags: ParameterControlSpec[] } {
  const shown = methodParameterNames(spec)
    .filter((n) => !spec.parameters[n]?.inert)
    .map((n): ParameterControlSpec => ({ parameter: PARAMETERS[n], fallback: parameterDefault(spec, n) }))
    .filter((c) => c.parameter.scope === scope && !c.parameter.labIgnores);
  return {
    numbers: shown.filter((c) => c.parameter.type !== 'boolean'),
    flags: shown.filter((c) => c.parameter.type === 'boolean'),
  };
}

/** The values the form fills in for a method's parameters of one scope (e.g. weight 1, density 0.5). */
function initialParameters(spec: MethodSpec, scope: ParameterScope): Record<string, Setting> {
  const out: Record<string, Setting> = {};
  for (const n of methodParameterNames(spec)) {
    const p: ParameterDef = PARAMETERS[n];
    if (p.scope === scope && p.initial !== undefined) out[n] = p.initial;
  }
  return out;
}

export class RecipeState {
  #recipe = $state.raw<Recipe>(PRESETS[0]!.build('demo-quick', 'demo-slow'));
  #yamlDraft = $state<string | undefined>(undefined);
  #yamlError = $state<string | undefined>(undefined);

  /** The recipe as the form and the YAML view last made it valid. */
  get recipe(): Recipe {
    return this.#recipe;
  }
  /** The YAML text as the user typed it (may be invalid while editing). */
  get yamlDraft(): string | undefined {
    return this.#yamlDraft;
  }
  /** Why the typed YAML is not a recipe, naming the field. */
  get yamlError(): string | undefined {
    return this.#yamlError;
  }

  readonly yaml = $derived(emitRecipe(this.#recipe));
  readonly spec = $derived(METHODS[this.#recipe.mergeMethod]);

  applyPreset(p: Preset, quick: string, slow: string): void {
    this.set(p.build(quick, slow));
  }

  set(r: Recipe): void {
    this.#recipe = r;
    this.#yamlDraft = undefined;
    this.#yamlError = undefined;
  }

  /** Parses edited YAML; on error keeps the draft and names the offending field. */
  editYaml(text: string): void {
    this.#yamlDraft = text;
    try {
      this.#recipe = parseRecipe(text).recipe;
      this.#yamlError = undefined;
    } catch (e) {
      this.#yamlError = e instanceof RecipeError ? e.message : String(e);
    }
  }

  setMethod(method: MergeMethodName): void {
    const spec = METHODS[method];
    const r = this.recipe;
    const allowed = new Set<string>(spec.modelParameters);
    const seed = initialParameters(spec, 'model');
    let models = r.models.map((m) => ({
      model: m.model,
      parameters: Object.fromEntries(Object.entries(m.parameters).filter(([k]) => allowed.has(k))),
    }));
    if (spec.family === 'slerp') models = models.filter((m) => m.model !== r.baseModel).slice(0, 1);
    else
      models = models.map((m) =>
        m.model === r.baseModel && spec.family === 'task_vector'
          ? m
          : { ...m, parameters: { ...seed, ...m.parameters } },
      );
    const globals = new Set<string>(spec.globalParameters);
    const parameters: Record<string, Setting> = {
      ...Object.fromEntries(Object.entries(r.parameters).filter(([k]) => globals.has(k))),
    };
    for (const [k, v] of Object.entries(initialParameters(spec, 'global'))) parameters[k] ??= v;
    if (spec.family === 'linear' && r.baseModel && !models.some((m) => m.model === r.baseModel))
      models = [{ model: r.baseModel, parameters: { ...seed } }, ...models];
    // A sens block stays on the methods it weights; sens_merging starts one (its statistics come from the Sens panel).
    const { sens, ...rest } = r;
    const kept = SENS_CARRIERS.includes(method)
      ? (sens ?? (method === SENS_METHOD ? emptySens() : undefined))
      : undefined;
    this.set({ ...rest, mergeMethod: method, models, parameters, ...(kept ? { sens: kept } : {}) });
  }

  setModelParameter(model: string, key: string, value: Setting | undefined): void {
    this.set({
      ...this.recipe,
      models: this.recipe.models.map((m) => {
        if (m.model !== model) return m;
        const parameters = { ...m.parameters };
        if (value === undefined) delete parameters[key];
        else parameters[key] = value;
        return { ...m, parameters };
      }),
    });
  }

  setGlobal(key: string, value: Setting | undefined): void {
    const parameters = { ...this.recipe.parameters };
    if (value === undefined) delete parameters[key];
    else parameters[key] = value;
    this.set({ ...this.recipe, parameters });
  }

  setBase(name: string): void {
    this.set({ ...this.recipe, baseModel: name });
  }

  setModels(names: string[]): void {
    const keep = new Map(this.recipe.models.map((m) => [m.model, m]));
    const defaults = initialParameters(this.spec, 'model');
    this.set({ ...this.recipe, models: names.map((n) => keep.get(n) ?? { model: n, parameters: { ...defaults } }) });
  }

  setSeed(seed: number): void {
    this.set({ ...this.recipe, randomSeed: seed });
  }
}
