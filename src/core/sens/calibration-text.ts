/**
 * Calibration text for Sens-Merging (reference §1.7, §4.14): question + answer, where the answer
 * is short (System 2's calibration, to favour concise output) or long (System 1's), taken from
 * the problem set's own reference solutions (the default) or from a model's responses in an eval
 * results file. Problem ids are those parseProblemSet gives (`id`, else `<set>#<line>`).
 */
import { LabError } from '../errors';

export type AnswerLength = 'short' | 'long';
export type TextSource = 'reference' | 'responses';

export interface CalibrationExample {
  readonly id: string;
  readonly question: string;
  readonly answer: string;
}

export class CalibrationTextError extends LabError {
  override readonly name = 'CalibrationTextError';
  constructor(
    readonly code: 'no-calibration-text' | 'no-target-tokens',
    file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`, { file });
  }
}

/** Fields holding a long (reasoning) answer, s1K's first. */
const LONG_FIELDS = ['thinking_trajectories', 'deepseek_thinking_trajectory', 'long_answer', 'long_solution'];

function text(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim()) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string') && v.length) return v.join('\n');
  return undefined;
}

/** The short reference answer: GSM8K's worked answer with `#### N` as "The answer is N.", MATH's solution, or `answer`. */
function shortAnswer(row: Record<string, unknown>): string | undefined {
  const a = text(row.answer);
  if (a && /####/.test(a)) return a.replace(/\n?####\s*(.+)\s*$/, (_, n: string) => `\nThe answer is ${n.trim()}.`);
  return text(row.solution) ?? text(row.short_answer) ?? (a !== undefined ? `The answer is ${a.trim()}.` : undefined);
}

function longAnswer(row: Record<string, unknown>): string | undefined {
  for (const f of LONG_FIELDS) {
    const t = text(row[f]);
    if (t) return text(row.attempt) ? `${t}\n${text(row.attempt)}` : t;
  }
  return undefined;
}

/** Reference-solution examples from a JSONL problem set. */
export function referenceExamples(jsonl: string, setName: string, answers: AnswerLength): CalibrationExample[] {
  const out: CalibrationExample[] = [];
  jsonl.split(/\r?\n/).forEach((raw, i) => {
    if (!raw.trim()) return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return;
    }
    const question = text(row.question) ?? text(row.problem) ?? text(row.prompt);
    const answer = answers === 'short' ? shortAnswer(row) : longAnswer(row);
    if (!question || !answer) return;
    const id = typeof row.id === 'string' || typeof row.id === 'number' ? String(row.id) : `${setName}#${i + 1}`;
    out.push({ id, question, answer });
  });
  if (out.length === 0)
    throw new CalibrationTextError(
      'no-calibration-text',
      setName,
      answers === 'long'
        ? `no long answers (fields ${LONG_FIELDS.join(', ')}); use a model's responses instead (--text responses)`
        : 'no question with a reference solution',
    );
  return out;
}

/** Examples from an eval results file (`merge-lab eval --json`): `model`'s response to each problem of the set. */
export function responseExamples(
  resultsJson: string,
  file: string,
  model: string,
  questions: ReadonlyMap<string, string>,
): CalibrationExample[] {
  let doc: { runs?: { models?: { name?: string; responses?: { problemId: string; text: string }[] }[] }[] };
  try {
    doc = JSON.parse(resultsJson) as typeof doc;
  } catch (e) {
    throw new CalibrationTextError('no-calibration-text', file, `not valid JSON (${(e as Error).message})`);
  }
  const out: CalibrationExample[] = [];
  for (const run of doc.runs ?? [])
    for (const m of run.models ?? [])
      if (m.name === model)
        for (const r of m.responses ?? []) {
          const question = questions.get(r.problemId);
          if (question && r.text.trim()) out.push({ id: r.problemId, question, answer: r.text });
        }
  if (out.length === 0)
    throw new CalibrationTextError(
      'no-calibration-text',
      file,
      `no responses of model '${model}' to problems of this set`,
    );
  return out;
}

/** `samples` examples chosen by a seeded shuffle (recorded in the statistics file). */
export function chooseExamples<T>(all: readonly T[], samples: number, seed: number): T[] {
  const idx = all.map((_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = idx.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const j = s % (i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, samples).map((i) => all[i]!);
}
