/**
 * A shareable URL: the recipe and the evaluation settings, encoded in the URL fragment (never
 * sent to a server). Models are referenced by name; the receiver loads the same files locally.
 */
import { recipeToObject } from '../../core/recipe/mergekit';
import { parseRecipeObject } from '../../core/recipe/parse';
import type { Recipe } from '../../core/recipe/types';

export interface SharedSettings {
  readonly set?: string;
  readonly limit?: number;
  readonly maxNewTokens?: number;
}

export interface SharedState {
  readonly recipe: Recipe;
  readonly settings: SharedSettings;
}

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(s: string): string {
  const bin = atob(s.replaceAll('-', '+').replaceAll('_', '/'));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

export function encodeShare(state: SharedState): string {
  return `#lab=${toBase64Url(JSON.stringify({ v: 1, recipe: recipeToObject(state.recipe), settings: state.settings }))}`;
}

/** Decodes a fragment; an invalid recipe is rejected by the same validation as a YAML file. */
export function decodeShare(hash: string): SharedState | undefined {
  const m = /[#&]lab=([A-Za-z0-9_-]+)/.exec(hash);
  if (!m) return undefined;
  const doc = JSON.parse(fromBase64Url(m[1]!)) as { v: number; recipe: unknown; settings?: SharedSettings };
  if (doc.v !== 1) throw new Error(`shared link version ${doc.v} is not supported`);
  const s = doc.settings ?? {};
  const settings: SharedSettings = {
    ...(typeof s.set === 'string' ? { set: s.set } : {}),
    ...(typeof s.limit === 'number' ? { limit: s.limit } : {}),
    ...(typeof s.maxNewTokens === 'number' ? { maxNewTokens: s.maxNewTokens } : {}),
  };
  return { recipe: parseRecipeObject(doc.recipe).recipe, settings };
}
