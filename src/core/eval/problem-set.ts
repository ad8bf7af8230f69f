/**
 * Problem sets from JSONL in the formats people have: GSM8K (`question`, `answer` ending
 * `#### N`), MATH/MATH500 (`problem`, `answer` or `solution` with \boxed{}, `level`), and a
 * generic `{prompt, answer}`. The format is detected per file and can be forced.
 */
import { LabError } from '../errors';
import { lastBoxed } from './extract';

export type ProblemFormat = 'gsm8k' | 'math' | 'generic';

export interface Problem {
  readonly id: string;
  readonly question: string;
  /** The gold final answer (not yet normalised). */
  readonly answer: string;
  readonly level?: number;
}

export interface BadLine {
  readonly line: number;
  readonly reason: string;
}

export interface ProblemSet {
  readonly name: string;
  readonly format: ProblemFormat;
  readonly problems: readonly Problem[];
  readonly badLines: readonly BadLine[];
}

/** `bad-line`: a malformed line under `onBadLine: 'reject'`; `empty`: nothing usable in the file;
 *  `no-problems`: nothing left to evaluate (after few-shot examples and the limit). */
export type ProblemSetErrorCode = 'bad-line' | 'empty' | 'no-problems';

export class ProblemSetError extends LabError {
  override readonly name = 'ProblemSetError';
  declare readonly file: string;
  constructor(
    readonly code: ProblemSetErrorCode,
    file: string,
    detail: string,
    readonly badLines: readonly BadLine[] = [],
  ) {
    super(`${file}: ${detail}`, { file });
  }
}

export interface ProblemSetOptions {
  format?: ProblemFormat | 'auto';
  /** `skip` reports bad lines and keeps going; `reject` fails on the first. Default: skip. */
  onBadLine?: 'skip' | 'reject';
}

export function detectFormat(row: Record<string, unknown>): ProblemFormat | undefined {
  if (typeof row.question === 'string' && typeof row.answer === 'string' && /####/.test(row.answer)) return 'gsm8k';
  if (typeof row.problem === 'string' && (row.answer !== undefined || typeof row.solution === 'string')) return 'math';
  if (typeof row.prompt === 'string' && row.answer !== undefined) return 'generic';
  if (typeof row.question === 'string' && row.answer !== undefined) return 'generic';
  return undefined;
}

function parseLevel(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const m = /(\d+)/.exec(v);
    if (m) return Number(m[1]);
  }
  return undefined;
}

const LINE_BREAK = /[\n\r\u2028\u2029]/;

/**
 * The text after GSM8K's `####` marker on the answer's last line (or after a `####` that only
 * whitespace separates from it); what `/####\s*(.+)\s*$/` matched, found in linear time (that
 * expression backtracks quadratically on a long line of markers).
 */
export function gsm8kFinalAnswer(answer: string): string | undefined {
  const body = answer.trimEnd();
  let lastBreak = body.length - 1;
  while (lastBreak >= 0 && !LINE_BREAK.test(body[lastBreak]!)) lastBreak--;
  if (
    lastBreak >= 0 &&
    body
      .slice(0, lastBreak + 1)
      .trimEnd()
      .endsWith('####')
  )
    return body.slice(lastBreak + 1).trim();
  const at = body.indexOf('####', lastBreak + 1);
  if (at < 0) return undefined;
  const rest = answer.slice(at + 4);
  return /[^\n\r\u2028\u2029]/.test(rest) ? rest.trim() : undefined;
}

function toProblem(row: Record<string, unknown>, format: ProblemFormat, id: string): Problem {
  const level = parseLevel(row.level);
  const withLevel = (p: Omit<Problem, 'level'>): Problem => (level === undefined ? p : { ...p, level });
  switch (format) {
    case 'gsm8k': {
      if (typeof row.question !== 'string') throw new Error("missing 'question'");
      const a = typeof row.answer === 'string' ? gsm8kFinalAnswer(row.answer) : undefined;
      if (a === undefined) throw new Error("'answer' does not end with '#### N'");
      return withLevel({ id, question: row.question, answer: a });
    }
    case 'math': {
      if (typeof row.problem !== 'string') throw new Error("missing 'problem'");
      const answer =
        row.answer !== undefined
          ? String(row.answer)
          : typeof row.solution === 'string'
            ? lastBoxed(row.solution)
            : undefined;
      if (answer === undefined) throw new Error("no 'answer' and no \\boxed{} in 'solution'");
      return withLevel({ id, question: row.problem, answer: answer.trim() });
    }
    case 'generic': {
      const q = typeof row.prompt === 'string' ? row.prompt : row.question;
      if (typeof q !== 'string') throw new Error("missing 'prompt'");
      if (row.answer === undefined || row.answer === null) throw new Error("missing 'answer'");
      return withLevel({ id, question: q, answer: String(row.answer).trim() });
    }
  }
}

export function parseProblemSet(text: string, name: string, opts: ProblemSetOptions = {}): ProblemSet {
  const badLines: BadLine[] = [];
  const problems: Problem[] = [];
  let format = opts.format === 'auto' ? undefined : opts.format;
  const bad = (line: number, reason: string) => {
    badLines.push({ line, reason });
    if (opts.onBadLine === 'reject') throw new ProblemSetError('bad-line', name, `line ${line}: ${reason}`, badLines);
  };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch {
      return bad(line, 'not valid JSON');
    }
    if (!row || typeof row !== 'object' || Array.isArray(row)) return bad(line, 'not a JSON object');
    const r = row as Record<string, unknown>;
    format ??= detectFormat(r);
    if (!format) return bad(line, 'unrecognised format (expected GSM8K, MATH or {prompt, answer} fields)');
    try {
      problems.push(
        toProblem(r, format, typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : `${name}#${line}`),
      );
    } catch (e) {
      bad(line, (e as Error).message);
    }
  });
  if (problems.length === 0)
    throw new ProblemSetError(
      'empty',
      name,
      badLines.length
        ? `no usable problems (${badLines.length} bad lines, first: line ${badLines[0]!.line}: ${badLines[0]!.reason})`
        : 'the problem set is empty',
      badLines,
    );
  return { name, format: format!, problems, badLines };
}
