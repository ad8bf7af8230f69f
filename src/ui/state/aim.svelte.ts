/**
 * AIM in the page: calibration statistics measured on the base model in the evaluation worker,
 * kept per (model, problem set) so a calibration is reused, or loaded from a saved file.
 */
import { describeError } from '../../core/errors';
import { type ActivationStats, parseActivationStats } from '../../core/merge/activation-stats';
import type { EvalClient } from '../../workers/eval-client';
import type { EvalSettings } from './eval-settings.svelte';
import type { ModelsState } from './models.svelte';

export function statsFileName(model: string, set: string): string {
  return `${model}.${set.replace(/\.[^.]+$/, '')}.aim-stats.json`;
}

export class AimState {
  #stats = $state.raw<Record<string, ActivationStats>>({});
  #status = $state<string | undefined>(undefined);
  #busy = $state(false);

  /** `client`: the page's one evaluation worker client (calibration runs there); `settings` give the problem set. */
  constructor(
    private readonly models: ModelsState,
    private readonly settings: EvalSettings,
    private readonly client: EvalClient,
  ) {}

  /** Statistics by file name (`<model>.<set>.aim-stats.json`). */
  get stats(): Readonly<Record<string, ActivationStats>> {
    return this.#stats;
  }
  get status(): string | undefined {
    return this.#status;
  }
  get busy(): boolean {
    return this.#busy;
  }

  async calibrate(model: string, samples = 32): Promise<string | undefined> {
    const entry = this.models.byName(model);
    const set = this.settings.current;
    if (!entry || !set) {
      this.#status = 'Load the base model and pick a problem set (Compare step) first.';
      return undefined;
    }
    const name = statsFileName(model, set.id);
    if (this.#stats[name]) return name;
    this.#busy = true;
    try {
      const stats = await this.client.calibrate(
        model,
        entry.files,
        set.text,
        set.id,
        samples,
        (d, n) => (this.#status = `calibrating on ${set.id}: ${d}/${n}`),
      );
      this.#stats = { ...this.#stats, [name]: stats };
      this.#status = `${name}: ${Object.keys(stats.channels).length} linear weights from ${stats.calibration.tokens} tokens`;
      return name;
    } catch (e) {
      this.#status = `calibration failed: ${describeError(e)}`;
      return undefined;
    } finally {
      this.#busy = false;
    }
  }

  async loadFile(file: File): Promise<string | undefined> {
    try {
      const stats = parseActivationStats(await file.text(), file.name);
      this.#stats = { ...this.#stats, [file.name]: stats };
      this.#status = `${file.name}: ${Object.keys(stats.channels).length} linear weights (model ${stats.model}, set ${stats.calibration.set})`;
      return file.name;
    } catch (e) {
      this.#status = describeError(e);
      return undefined;
    }
  }
}
