/**
 * The calibration text of a page calibration, built as `merge-lab sensitivity` builds it: the
 * set's reference solutions, or one model's responses from an `eval --json` results file (the
 * Compare step's evaluation, or a file imported from the CLI). A set without `id` fields numbers
 * its problems `<set>#<line>`; the CLI names a set by its file name (`arith-heldout.jsonl`), the
 * page by its id (`arith-heldout`), so a results file's ids are matched under either name.
 */
import { parseProblemSet } from '../core/eval/problem-set';
import {
  type AnswerLength,
  type CalibrationExample,
  referenceExamples,
  responseExamples,
} from '../core/sens/calibration-text';

/** A model's responses as calibration text: an eval results file's JSON, its name, and the model. */
export interface ResponsesText {
  readonly json: string;
  readonly file: string;
  readonly model: string;
}

const stem = (name: string) => name.replace(/\.[^.]+$/, '');

/** The set names the results file evaluated that are this set under another name (`x.jsonl` for `x`). */
function sameSetNames(resultsJson: string, setName: string): string[] {
  try {
    const doc = JSON.parse(resultsJson) as { runs?: { set?: { name?: unknown } }[] };
    const names = (doc.runs ?? []).map((r) => r.set?.name).filter((n): n is string => typeof n === 'string');
    return names.filter((n) => n !== setName && stem(n) === stem(setName));
  } catch {
    return []; // responseExamples reports the JSON error, naming the file
  }
}

/** Question of each problem id of the set, under its page name and the CLI's names of it. */
function questionsById(setText: string, setName: string, resultsJson: string): Map<string, string> {
  const questions = new Map<string, string>();
  for (const name of [setName, ...new Set(sameSetNames(resultsJson, setName))])
    for (const p of parseProblemSet(setText, name).problems) questions.set(p.id, p.question);
  return questions;
}

/** Every calibration example the text offers (before the seeded choice of samples). */
export function calibrationExamples(
  setText: string,
  setName: string,
  answers: AnswerLength,
  responses?: ResponsesText,
): CalibrationExample[] {
  if (!responses) return referenceExamples(setText, setName, answers);
  const questions = questionsById(setText, setName, responses.json);
  return responseExamples(responses.json, responses.file, responses.model, questions);
}
