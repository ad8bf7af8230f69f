/**
 * mergekit's `slices` for `passthrough`: each slice takes layers [start, end) of one model
 * (`sources: [{model, layer_range: [start, end], parameters}]`), and the output stacks the slices'
 * layers in order. Slices with several sources (merged with another method) are not supported.
 */
import { RecipeError } from '../errors';
import type { RecipeSlice, Setting } from './types';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses `slices`; `parameters(raw, field)` parses a source's per-model parameters. */
export function parseSlices(
  raw: unknown,
  method: string,
  parameters: (raw: unknown, field: string) => Record<string, Setting>,
): RecipeSlice[] {
  if (method !== 'passthrough')
    throw new RecipeError('slices', `slices work with merge_method: passthrough only (not ${method})`);
  if (!Array.isArray(raw) || raw.length === 0) throw new RecipeError('slices', 'must list at least one slice');
  return raw.map((slice, i) => {
    const f = `slices[${i}]`;
    if (!isRecord(slice) || !Array.isArray(slice.sources))
      throw new RecipeError(f, 'must be a mapping with `sources: [{model, layer_range}]`');
    if (slice.sources.length !== 1)
      throw new RecipeError(
        `${f}.sources`,
        `passthrough takes exactly one source per slice (got ${slice.sources.length}); slices that merge several sources are not supported`,
      );
    const src: unknown = slice.sources[0];
    const sf = `${f}.sources[0]`;
    if (!isRecord(src) || typeof src.model !== 'string' || !src.model)
      throw new RecipeError(`${sf}.model`, 'must name a model');
    const range = src.layer_range;
    if (
      !Array.isArray(range) ||
      range.length !== 2 ||
      !range.every((v) => Number.isInteger(v) && (v as number) >= 0) ||
      (range[0] as number) >= (range[1] as number)
    )
      throw new RecipeError(`${sf}.layer_range`, 'must be [start, end]: whole numbers with 0 ≤ start < end');
    return {
      model: src.model,
      layerRange: [range[0] as number, range[1] as number] as const,
      parameters: parameters(src.parameters, `${sf}.parameters`),
    };
  });
}
