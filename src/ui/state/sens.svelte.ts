/**
 * Sens-Merging in the page: statistics files computed in the sensitivity worker or imported, kept
 * per (model, problem set, answers, calibration text: sens-text.ts) so a calibration is reused
 * (as AIM's are; on the CPU or the WebGPU backward pass, the worker's parameter), each checked against
 * its model's checkpoint when it is assigned; the per-layer coefficients a recipe's `sens` block
 * gives; and the compile step a merge runs first (compileForMerge), with the same typed errors as
 * the CLI (the file and the missing layer named).
 */
import { describeError, isAbortError } from '../../core/errors';
import { Checkpoint } from '../../core/formats/checkpoint';
import { MapModelFolder } from '../../core/io/byte-source';
import type { Recipe } from '../../core/recipe/types';
import type { AnswerLength } from '../../core/sens/calibration-text';
import { type CompiledSens, compileSens, sensModelInfo } from '../../core/sens/compile';
import { SENS_METHOD } from '../../core/sens/settings';
import { type SensStats, checkStatsFor, parseSensStats } from '../../core/sens/stats';
import { type SensBackend, SensitivityClient } from '../../workers/sensitivity-client';
import type { LoadedSet } from './eval-settings.svelte';
import type { ModelsState } from './models.svelte';
import {
  type CalibrationText,
  REFERENCE_TEXT,
  type ResponsesSource,
  describeText,
  importedSource,
  modelsWithoutStats,
  responsesText,
  sensFileName,
  textKey,
} from './sens-text';

export { sensFileName };

export interface SensCalibration {
  readonly model: string;
  /** The models whose logit distances are recorded (the others of the recipe). */
  readonly compare: readonly string[];
  readonly set: LoadedSet;
  readonly answers: AnswerLength;
  /** The set's reference solutions (default) or a model's responses. */
  readonly text?: CalibrationText;
  readonly samples: number;
  readonly maxTokens: number | null;
  readonly backend?: SensBackend;
}

export interface SensProgressState {
  readonly model: string;
  readonly done: number;
  readonly total: number;
  readonly phase: 'gradients' | 'distances';
}

async function openCheckpoint(name: string, files: Map<string, Blob> | Record<string, Blob>): Promise<Checkpoint> {
  return Checkpoint.open(new MapModelFolder(name, files instanceof Map ? files : new Map(Object.entries(files))), {
    requireConfig: true,
  });
}

export class SensState {
  #stats = $state.raw<Record<string, SensStats>>({});
  #status = $state<string | undefined>(undefined);
  #error = $state<string | undefined>(undefined);
  #progress = $state<SensProgressState | undefined>(undefined);
  #responseFiles = $state.raw<ResponsesSource[]>([]);
  #textChoices = $state.raw<Record<string, string>>({});
  /** File name → the text its calibration was made from (textKey), so that no other text reuses it. */
  #texts = new Map<string, string>();
  #abort: AbortController | undefined;
  #client: SensitivityClient | undefined;

  constructor(private readonly spawn: () => SensitivityClient = () => SensitivityClient.spawn()) {}

  /** Statistics by file name. */
  get stats(): Readonly<Record<string, SensStats>> {
    return this.#stats;
  }
  get status(): string | undefined {
    return this.#status;
  }
  /** The last refusal or failure, in the engine's words (file, model, layer). */
  get error(): string | undefined {
    return this.#error;
  }
  get progress(): SensProgressState | undefined {
    return this.#progress;
  }
  get busy(): boolean {
    return this.#progress !== undefined;
  }
  /** The calibration text chosen for each model (a select's value: sens-text.ts textValue), kept across steps. */
  get textChoices(): Readonly<Record<string, string>> {
    return this.#textChoices;
  }
  chooseText(model: string, value: string): void {
    this.#textChoices = { ...this.#textChoices, [model]: value };
  }
  /** Imported `eval --json` files, as sources of calibration text. */
  get responseFiles(): readonly ResponsesSource[] {
    return this.#responseFiles;
  }

  /** Imports an `eval --json` file (the CLI's) as a source of calibration text; resolves to it, or undefined. */
  async importResponses(file: File): Promise<ResponsesSource | undefined> {
    try {
      const source = importedSource(file.name, await file.text());
      this.#responseFiles = [...this.#responseFiles.filter((s) => s.id !== source.id), source];
      this.say(`${file.name}: responses of ${source.models.join(', ')}`);
      return source;
    } catch (e) {
      this.say(undefined, e);
      return undefined;
    }
  }

  /** Why a merge of `recipe` cannot run yet: its `sens` block lacks some model's statistics. */
  missingStatistics(recipe: Recipe): string | undefined {
    const missing = modelsWithoutStats(recipe, (f) => this.#stats[f] !== undefined);
    return missing.length
      ? `Sens-Merging needs statistics for ${missing.join(', ')}: calibrate or import them in the Recipe step first.`
      : undefined;
  }

  private say(status: string | undefined, error?: unknown): void {
    this.#status = status;
    this.#error = error === undefined ? undefined : describeError(error);
  }

  /** Runs (or reuses) a calibration; resolves to the statistics' file name, or undefined on failure or cancel. */
  async calibrate(models: ModelsState, c: SensCalibration): Promise<string | undefined> {
    const text = c.text ?? REFERENCE_TEXT;
    const name = sensFileName(c.model, c.set.id, c.answers, text);
    const cached = this.#stats[name];
    const backend = c.backend ?? 'cpu';
    const sameRun = (s: SensStats) =>
      (this.#texts.get(name) ?? 'reference') === textKey(text) &&
      c.compare.every((m) => s.logitDistances[m] !== undefined) &&
      (s.readings.backend ?? 'cpu').startsWith(backend);
    if (cached && sameRun(cached)) {
      this.say(`${name}: reused (${cached.calibration.samples} samples)`);
      return name;
    }
    const worker = (m: string) => {
      const entry = models.byName(m);
      if (!entry || entry.status !== 'ready') throw new Error(`model '${m}' is not loaded`);
      return { name: m, files: Object.fromEntries(entry.files) };
    };
    const responses = responsesText(text);
    const ac = (this.#abort = new AbortController());
    this.#progress = { model: c.model, done: 0, total: 1, phase: 'gradients' };
    this.say(`calibrating ${c.model} on ${c.set.id} (${describeText(text)})…`);
    try {
      const client = (this.#client ??= this.spawn());
      const stats = await client.calibrate(
        {
          model: worker(c.model),
          compare: c.compare.map(worker),
          setText: c.set.text,
          setName: c.set.id,
          ...(responses ? { responses } : {}),
          answers: c.answers,
          samples: c.samples,
          seed: 1,
          maxTokens: c.maxTokens,
          backend,
        },
        {
          signal: ac.signal,
          onProgress: (done, total, phase) => {
            this.#progress = { model: c.model, done, total, phase };
          },
        },
      );
      this.#stats = { ...this.#stats, [name]: stats };
      this.#texts.set(name, textKey(text));
      this.say(`${name}: ${stats.calibration.samples} samples, ${stats.calibration.targets} target tokens`);
      return name;
    } catch (e) {
      this.say(isAbortError(e) ? 'Calibration cancelled.' : undefined, isAbortError(e) ? undefined : e);
      return undefined;
    } finally {
      this.#progress = undefined;
      this.#abort = undefined;
    }
  }

  cancel(): void {
    this.#abort?.abort();
  }

  /**
   * Imports a statistics file for `model` (the documented `merge-lab-sens-stats` format), refused
   * when it belongs to another model or lacks a layer group of the model's checkpoint.
   */
  async importFile(file: File, model: string, models: ModelsState): Promise<string | undefined> {
    try {
      const stats = parseSensStats(await file.text(), file.name);
      const entry = models.byName(model);
      if (!entry || entry.status !== 'ready') throw new Error(`model '${model}' is not loaded`);
      const ckpt = await openCheckpoint(model, entry.files);
      checkStatsFor(stats, file.name, sensModelInfo(ckpt));
      this.#stats = { ...this.#stats, [file.name]: stats };
      this.#texts.delete(file.name);
      this.say(`${file.name}: ${Object.keys(stats.layers).length} layer groups of ${stats.model}`);
      return file.name;
    } catch (e) {
      this.say(undefined, e);
      return undefined;
    }
  }

  /** The coefficients of a recipe with a `sens` block from the statistics at hand, or why there are none. */
  coefficients(recipe: Recipe): { compiled: CompiledSens } | { problem: string } | undefined {
    if (!recipe.sens && recipe.mergeMethod !== SENS_METHOD) return undefined;
    try {
      return { compiled: compileSens(recipe, new Map(Object.entries(this.#stats))) };
    } catch (e) {
      return { problem: describeError(e) };
    }
  }
}

/** The page's one Sens-Merging state: the Recipe step edits it, a merge compiles with it. */
export const sensState = new SensState();

/**
 * The recipe a merge runs: with a `sens` block, compiled against the statistics at hand and the
 * models' checkpoints (read from their headers); otherwise the recipe itself.
 */
export async function compileForMerge(recipe: Recipe, models: Record<string, Record<string, Blob>>): Promise<Recipe> {
  if (!recipe.sens && recipe.mergeMethod !== SENS_METHOD) return recipe;
  const sources = new Map<string, Checkpoint>();
  for (const [name, files] of Object.entries(models)) sources.set(name, await openCheckpoint(name, files));
  return compileSens(recipe, new Map(Object.entries(sensState.stats)), sources).recipe;
}
