/**
 * The Compare step's side of the evaluation journal (src/browser/eval-journal.ts): the settings an
 * evaluation is journaled with, whether an interrupted one can be resumed here (its models still
 * loaded, with the same files), putting its settings back in the form before it resumes, and what
 * a user reads when the evaluation worker died mid-run.
 */
import { type JournaledEval, type JournaledSettings, filesFingerprint } from '../../browser/eval-journal';
import { describeError } from '../../core/errors';
import type { Q4BlockSize } from '../../core/kernels/q4-pack';
import type { EpChoice } from '../../infer/runtime';
import type { WeightFormat } from '../../infer/weight-format';
import type { EvalSettings, LoadedSet } from '../state/eval-settings.svelte';
import type { ModelsState } from '../state/models.svelte';

/** The settings of an evaluation of `names` starting now on `set`. */
export function journaledSettings(
  s: EvalSettings,
  models: ModelsState,
  names: readonly string[],
  set: LoadedSet,
): JournaledSettings {
  return {
    models: names.map((name) => ({ name, fingerprint: filesFingerprint(models.byName(name)?.files ?? new Map()) })),
    setId: set.id,
    setText: set.text,
    limit: s.limit,
    maxNewTokens: s.maxNewTokens,
    batch: s.batch,
    ep: s.ep,
    weights: s.weights,
    blockSize: s.blockSize,
    force: s.force,
    reference: s.reference,
    total: Math.min(s.limit, set.set.problems.length) * names.length,
  };
}

/** Responses an interrupted evaluation kept. */
export function finishedCount(j: JournaledEval): number {
  return Object.values(j.records).reduce((a, rs) => a + rs.length, 0);
}

/** Why the interrupted evaluation cannot resume in this page, or undefined when it can. */
export function resumeProblem(j: JournaledEval, models: ModelsState): string | undefined {
  for (const { name, fingerprint } of j.settings.models) {
    const entry = models.byName(name);
    if (!entry || entry.status !== 'ready')
      return `${name} is not loaded${entry ? ' yet' : ': add it again in the Models step to resume'}.`;
    if (filesFingerprint(entry.files) !== fingerprint)
      return `${name} is not the model the evaluation ran (its files changed): it cannot be resumed.`;
  }
  return undefined;
}

/** Puts the interrupted evaluation's settings back in the form (models in their order, set, limits, format). */
export function applyJournaledSettings(s: EvalSettings, j: JournaledSettings): void {
  const same = s.sets.find((x) => x.id === j.setId);
  if (same?.text === j.setText) s.selectSet(j.setId);
  else s.addSet(j.setId, j.setText);
  for (const name of s.selected) s.toggle(name, false);
  for (const { name } of j.models) s.toggle(name, true);
  s.setLimit(j.limit);
  s.setMaxNewTokens(j.maxNewTokens);
  s.setBatch(j.batch);
  s.setEp(j.ep as EpChoice);
  s.setWeights(j.weights as WeightFormat);
  s.setBlockSize(j.blockSize as Q4BlockSize);
  s.setForce(j.force);
  s.setReference(j.reference);
}

/** What a user reads when an evaluation failed: for a dead worker, what happened and what is kept. */
export function evalFailureMessage(e: unknown, finished: number): string {
  if ((e as { code?: unknown } | undefined)?.code !== 'worker-stopped') return describeError(e);
  const kept = finished
    ? `Its ${finished} finished response${finished === 1 ? ' is' : 's are'} kept: Resume runs only the missing problems, on a new worker.`
    : 'No response had finished; Evaluate starts a new worker.';
  return `The evaluation stopped: ${kept} (${describeError(e)})`;
}

/** What a user reads when an evaluation was cancelled after `done` responses had finished. */
export function cancelledMessage(done: number): string {
  return done
    ? `Evaluation cancelled: ${done} finished response${done === 1 ? '' : 's'} kept below, no results computed.`
    : 'Evaluation cancelled before any response finished.';
}
