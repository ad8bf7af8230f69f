/**
 * A shareable URL: the recipe and the evaluation settings, encoded in the URL fragment (never
 * sent to a server). Models are referenced by name; the receiver loads the same files locally.
 */
import { LabError } from '../../core/errors';
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

/** A link that cannot be read (bad encoding, not JSON, another version). */
export class ShareLinkError extends LabError {
  override readonly name = 'ShareLinkError';
  readonly code = 'bad-share-link';
  constructor(detail: string) {
    super(`shared link: ${detail}`, { field: 'lab' });
  }
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
  let doc: { v: number; recipe: unknown; settings?: SharedSettings } | null;
  try {
    doc = JSON.parse(fromBase64Url(m[1]!));
  } catch (e) {
    throw new ShareLinkError(`not readable (${(e as Error).message})`);
  }
  if (doc?.v !== 1) throw new ShareLinkError('not a version 1 Merge Lab link');
  const s = doc.settings ?? {};
  const count = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0;
  const settings: SharedSettings = {
    ...(typeof s.set === 'string' ? { set: s.set } : {}),
    ...(count(s.limit) ? { limit: s.limit } : {}),
    ...(count(s.maxNewTokens) ? { maxNewTokens: s.maxNewTokens } : {}),
  };
  return { recipe: parseRecipeObject(doc.recipe).recipe, settings };
}
