/**
 * A Sens-Merging statistics file for a tiny checkpoint: one layer group per decoder block, then the
 * embeddings, the final norm and lm_head, with the given element-wise sensitivities in that order.
 */
import { SENS_STATS_FORMAT, type SensStats } from '../../src/core/sens/stats';

export interface ToyShape {
  readonly layers: number;
  readonly hidden: number;
  readonly vocab: number;
}

export const sensGroups = (layers: number): string[] => [
  ...Array.from({ length: layers }, (_, l) => `model.layers.${l}`),
  'model.embed_tokens',
  'model.norm',
  'lm_head',
];

export function toySensStats(
  model: string,
  shape: ToyShape,
  elementwise: readonly number[],
  logitDistances: Record<string, number>,
  tensorwise: (value: number, group: number) => number = (_, i) => 1 + i,
): SensStats {
  return {
    format: SENS_STATS_FORMAT,
    version: 1,
    model,
    architecture: { layers: shape.layers, hidden: shape.hidden, vocab: shape.vocab },
    calibration: {
      set: 'toy',
      text: 'reference',
      answers: 'short',
      samples: 1,
      tokens: 3,
      targets: 2,
      seed: 1,
      maxTokens: null,
    },
    readings: {},
    samples: [{ ids: [1, 2, 3], targets: [1, 2] }],
    tensors: {},
    layers: Object.fromEntries(
      sensGroups(shape.layers).map((g, i) => [
        g,
        { elementwise: elementwise[i]!, tensorwise: tensorwise(elementwise[i]!, i) },
      ]),
    ),
    logitDistances,
  };
}
