/**
 * Sweeping one recipe parameter: each value is merged (its merge records the parameter and value,
 * so the point keeps its label after a reload), then the sources and every point are evaluated
 * together. Points are named by the swept value (α = 0.5), not by their folder names.
 */
import { describeError } from '../../core/errors';
import type { ActivationStats } from '../../core/merge/activation-stats';
import { sweepRecipes } from '../../core/eval/sweep';
import type { Recipe } from '../../core/recipe/types';
import type { CompareState } from './compare.svelte';
import { sweepLabel } from './labels';
import type { MergeState } from './merge.svelte';

export interface SweepPoint {
  readonly param: string;
  readonly value: number;
  readonly model: string;
}

export class SweepState {
  #points = $state.raw<SweepPoint[]>([]);
  #status = $state<string | undefined>(undefined);

  constructor(
    private readonly compare: CompareState,
    private readonly merge: MergeState,
  ) {}

  get points(): readonly SweepPoint[] {
    return this.#points;
  }
  /** What the sweep is doing, or why it stopped. */
  get status(): string | undefined {
    return this.#status;
  }

  /** Merges each value of one recipe parameter, then evaluates the sources and every point together. */
  async run(
    recipe: Recipe,
    param: string,
    values: readonly number[],
    activationStats?: ActivationStats,
  ): Promise<void> {
    this.#points = [];
    const points: SweepPoint[] = [];
    try {
      for (const { value, recipe: r } of sweepRecipes(recipe, param, values)) {
        this.#status = `merging ${sweepLabel(param, value)}…`;
        const label = `${recipe.mergeMethod} ${sweepLabel(param, value)}`;
        const entry = await this.merge.run(r, label, activationStats, { param, value });
        if (!entry) throw new Error(this.merge.error ?? 'merge failed');
        points.push({ param, value, model: entry.name });
      }
      this.#points = points;
      const sources = [
        ...new Set([recipe.baseModel, ...recipe.models.map((m) => m.model)].filter((m): m is string => !!m)),
      ];
      this.#status = 'evaluating…';
      await this.compare.evaluate([...sources, ...points.map((p) => p.model)]);
      this.#status = undefined;
    } catch (e) {
      this.#status = `sweep stopped: ${describeError(e)}`;
    }
  }
}
