/**
 * The calibration text a page calibration uses, per model: the set's reference solutions, or a
 * model's responses from an evaluation (the Compare step's, or an `eval --json` file imported from
 * the CLI). System 1 (the base) is calibrated by default on System 2's own responses when an
 * evaluation has them (the reference's "long answers for System 1"), otherwise on the reference
 * solutions, with a note. Also the statistics' names and cache keys (which include the text), and
 * which models of a recipe still lack statistics.
 */
import { type EvalRun } from '../../core/eval/run';
import { runsToJson } from '../../core/eval/report';
import { type AnswerLength, CalibrationTextError, referenceExamples } from '../../core/sens/calibration-text';
import { SENS_METHOD } from '../../core/sens/settings';
import type { Recipe } from '../../core/recipe/types';
import type { ResponsesText } from '../../workers/sensitivity-client';

/** An evaluation's responses: `models` are those with at least one response. */
export interface ResponsesSource {
  /** `compare` for the Compare step's evaluation, else the imported file's name. */
  readonly id: string;
  readonly label: string;
  readonly json: string;
  readonly models: readonly string[];
}

export type CalibrationText =
  | { readonly kind: 'reference' }
  | { readonly kind: 'responses'; readonly source: ResponsesSource; readonly model: string };

export const REFERENCE_TEXT: CalibrationText = { kind: 'reference' };

/** The Compare step's evaluation as a source, when it has responses to problems of the set `setId`. */
export function compareSource(run: EvalRun | undefined, setId: string | undefined): ResponsesSource | undefined {
  if (!run || run.set.name !== setId) return undefined;
  const models = run.models.filter((m) => m.responses.length > 0).map((m) => m.name);
  return models.length ? { id: 'compare', label: 'Compare evaluation', json: runsToJson([run]), models } : undefined;
}

/** An imported `eval --json` file as a source; refused (naming the file) when it holds no responses. */
export function importedSource(file: string, json: string): ResponsesSource {
  let doc: { runs?: { models?: { name?: unknown; responses?: unknown[] }[] }[] };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch (e) {
    throw new CalibrationTextError('no-calibration-text', file, `not valid JSON (${(e as Error).message})`);
  }
  const models = new Set<string>();
  for (const run of Array.isArray(doc.runs) ? doc.runs : [])
    for (const m of run.models ?? [])
      if (typeof m.name === 'string' && Array.isArray(m.responses) && m.responses.length) models.add(m.name);
  if (!models.size)
    throw new CalibrationTextError(
      'no-calibration-text',
      file,
      'no model responses (not a `merge-lab eval --json` file?)',
    );
  return { id: file, label: file, json, models: [...models] };
}

/** The value of a text in a select, and back. */
export const textValue = (t: CalibrationText): string =>
  t.kind === 'reference' ? 'reference' : `${t.source.id}\n${t.model}`;
export function textFromValue(value: string, sources: readonly ResponsesSource[]): CalibrationText {
  const [id, model] = value.split('\n');
  const source = sources.find((s) => s.id === id);
  return source && model && source.models.includes(model) ? { kind: 'responses', source, model } : REFERENCE_TEXT;
}

export const describeText = (t: CalibrationText): string =>
  t.kind === 'reference' ? 'reference solutions' : `responses of ${t.model} (${t.source.label})`;

/** Whether the set has long reference answers (s1K-style fields); the demo sets do not. */
export function hasLongReference(setText: string, setName: string): boolean {
  try {
    return referenceExamples(setText, setName, 'long').length > 0;
  } catch {
    return false;
  }
}

/**
 * The default text of `model`: System 1 (the base) on System 2's responses when a source has
 * them, else the reference solutions and a note saying so; every other model on the reference.
 */
export function defaultText(
  model: string,
  recipe: Recipe,
  sources: readonly ResponsesSource[],
): { text: CalibrationText; note?: string } {
  const system2 = recipe.models.find((m) => m.model !== recipe.baseModel)?.model;
  if (model !== recipe.baseModel || !system2) return { text: REFERENCE_TEXT };
  const source = sources.find((s) => s.models.includes(system2));
  if (source) return { text: { kind: 'responses', source, model: system2 } };
  return {
    text: REFERENCE_TEXT,
    note:
      "System 1 is calibrated on the set's reference solutions: " +
      `no evaluation with ${system2}'s responses on this set yet (the reference calibrates System 1 on ` +
      'long answers: run one in the Compare step, or import an eval --json file).',
  };
}

/** The calibration's payload for the worker (undefined: reference solutions). */
export function responsesText(t: CalibrationText): ResponsesText | undefined {
  return t.kind === 'responses' ? { json: t.source.json, file: t.source.label, model: t.model } : undefined;
}

/**
 * The statistics' file name, also the key a calibration is kept under: the CLI's default name
 * `<model>.<set>.<answers>.sens-stats.json` on reference solutions, with `<responder>-responses`
 * before the suffix on a model's responses (so neither is reused for the other).
 */
export function sensFileName(
  model: string,
  set: string,
  answers: AnswerLength,
  text: CalibrationText = REFERENCE_TEXT,
) {
  const via = text.kind === 'responses' ? `.${text.model}-responses` : '';
  return `${model}.${set.replace(/\.[^.]+$/, '')}.${answers}${via}.sens-stats.json`;
}

/** What a calibration was made from, beyond its name: the responses' content (a new evaluation is new text). */
export const textKey = (t: CalibrationText): string =>
  t.kind === 'reference' ? 'reference' : `responses\n${t.model}\n${t.source.json}`;

/** The models of a recipe with a `sens` block (or sens_merging) whose statistics are not at hand. */
export function modelsWithoutStats(recipe: Recipe, loaded: (file: string) => boolean): string[] {
  if (!recipe.sens && recipe.mergeMethod !== SENS_METHOD) return [];
  const involved = [
    ...new Set([...(recipe.baseModel ? [recipe.baseModel] : []), ...recipe.models.map((m) => m.model)]),
  ];
  return involved.filter((m) => {
    const file = recipe.sens?.statistics[m];
    return !file || !loaded(file);
  });
}
