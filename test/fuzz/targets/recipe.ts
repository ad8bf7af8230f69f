/**
 * mergekit YAML recipes and share links: valid recipes with one field changed, YAML-only hazards
 * (alias bombs, .nan, duplicate keys, tags, deep nesting), byte-level mutations of the text, and
 * share-link fragments re-encoded around a mutated document or mutated in their base64.
 */
import fc from 'fast-check';
import YAML from 'yaml';
import { parseRecipe } from '../../../src/core/recipe/parse';
import { decodeShare, encodeShare } from '../../../src/ui/state/share';
import { checkContract, utf8 } from '../contract';
import {
  type ByteMutation,
  type JsonMutation,
  applyByteMutation,
  applyJsonMutation,
  byteMutation,
  jsonMutation,
} from '../json-mutation';
import type { FuzzTarget } from '../target';

export const BASE_RECIPES = [
  'merge_method: task_arithmetic\nbase_model: quick\nmodels:\n  - model: slow\n    parameters:\n      weight: 0.7\ndtype: float32\n',
  'merge_method: ties\nbase_model: quick\nmodels:\n  - model: slow\n    parameters:\n      weight: 1.0\n      density: 0.2\nparameters:\n  lambda: 1.0\ndtype: float16\n',
  'merge_method: slerp\nbase_model: quick\nmodels:\n  - model: quick\n  - model: slow\nparameters:\n  t:\n    - filter: self_attn\n      value: [0, 0.5, 0.3, 0.7, 1]\n    - value: 0.5\ndtype: bfloat16\n',
  'merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: [0.2, 0.8]}\n  - model: b\n    parameters: {weight: 0.5}\nparameters: {normalize: true}\n',
  'merge_method: dare_ties\nbase_model: quick\nmodels:\n  - model: slow\n    parameters: {weight: 0.5, density: 0.5}\nparameters: {random_seed: 3}\naim: {omega: 0.4, calibration: stats.json}\n',
];

/** Text-level hazards that only YAML has. */
export const YAML_HAZARDS = [
  `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n`,
  'merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: .nan}\n  - model: b\n    parameters: {weight: -.inf}\n',
  'merge_method: linear\nmerge_method: ties\nmodels: []\n',
  'merge_method: !!binary aGVsbG8=\nmodels: [{model: !!set {a, b}}]\n',
  `merge_method: linear\nmodels: ${'['.repeat(3000)}${']'.repeat(3000)}\n`,
  'merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1e400}\n  - model: b\n    parameters: {weight: 0x7fffffffffffffffff}\n',
  '%YAML 1.1\n---\nmerge_method: linear\n---\nmodels: []\n',
  'merge_method: linear\nmodels:\n  - <<: {model: a}\n    parameters: {weight: 2017-01-01}\n',
];

export type RecipeInput =
  | { base: number; json: JsonMutation }
  | { base: number; bytes: ByteMutation }
  | { hazard: number; bytes: ByteMutation | null };

export const recipeTarget: FuzzTarget<RecipeInput> = {
  name: 'recipe-yaml',
  format: 'mergekit YAML',
  sliceRuns: 400,
  arbitrary: fc.oneof(
    { arbitrary: fc.record({ base: fc.nat(), json: jsonMutation }), weight: 5 },
    { arbitrary: fc.record({ base: fc.nat(), bytes: byteMutation(300) }), weight: 2 },
    { arbitrary: fc.record({ hazard: fc.nat(), bytes: fc.option(byteMutation(200), { nil: null }) }), weight: 1 },
  ),
  async run(input) {
    let text: string;
    if ('hazard' in input) {
      const hazard = YAML_HAZARDS[input.hazard % YAML_HAZARDS.length]!;
      text = input.bytes ? new TextDecoder().decode(applyByteMutation(utf8(hazard), input.bytes)) : hazard;
    } else {
      const base = BASE_RECIPES[input.base % BASE_RECIPES.length]!;
      // JSON is YAML: the mutated document is handed over in flow style.
      text =
        'json' in input
          ? applyJsonMutation(YAML.parse(base), input.json)
          : new TextDecoder().decode(applyByteMutation(utf8(base), input.bytes));
    }
    return checkContract(() => parseRecipe(text), { field: true, inputChars: text.length });
  },
};

export type ShareInput = { base: number; json: JsonMutation } | { base: number; bytes: ByteMutation } | { raw: string };

function shareOf(base: number): string {
  const { recipe } = parseRecipe(BASE_RECIPES[base % BASE_RECIPES.length]!);
  return encodeShare({ recipe, settings: { set: 'arith-heldout', limit: 40, maxNewTokens: 256 } });
}

function base64Url(text: string): string {
  let bin = '';
  for (const b of utf8(text)) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(s: string): string {
  return new TextDecoder().decode(
    Uint8Array.from(atob(s.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0)),
  );
}

export const shareTarget: FuzzTarget<ShareInput> = {
  name: 'share-link',
  format: 'share link',
  sliceRuns: 350,
  arbitrary: fc.oneof(
    { arbitrary: fc.record({ base: fc.nat(), json: jsonMutation }), weight: 4 },
    { arbitrary: fc.record({ base: fc.nat(), bytes: byteMutation(400) }), weight: 2 },
    { arbitrary: fc.record({ raw: fc.string({ maxLength: 40 }).map((s) => `#lab=${s}`) }), weight: 1 },
  ),
  async run(input) {
    let hash: string;
    if ('raw' in input) hash = input.raw;
    else {
      const link = shareOf(input.base);
      if ('json' in input) {
        const doc = JSON.parse(fromBase64Url(link.slice('#lab='.length)));
        hash = `#lab=${base64Url(applyJsonMutation(doc, input.json))}`;
      } else hash = new TextDecoder().decode(applyByteMutation(utf8(link), input.bytes));
    }
    return checkContract(() => decodeShare(hash), { field: true, inputChars: hash.length });
  },
};
