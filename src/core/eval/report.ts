/** Results as the paper's Table 1 (text), and every response as JSON or CSV. */
import { lengthChange } from './metrics';
import type { EvalRun } from './run';

export interface TableRow {
  readonly model: string;
  readonly accuracy: number;
  readonly meanTokens: number;
  /** 1 − L/L_ref (positive = shorter); undefined for the reference itself. */
  readonly lengthReduction: number | undefined;
  readonly totalTokenRatio: number | undefined;
  readonly reflectiveRate: number;
  readonly hitLimit: number;
}

export function tableRows(runs: readonly EvalRun[], reference?: string): TableRow[] {
  const names = runs[0]?.models.map((m) => m.name) ?? [];
  const per = (name: string) => runs.map((r) => r.models.find((m) => m.name === name)!.metrics);
  return names.map((name) => {
    const ms = per(name);
    const mean = (f: (m: (typeof ms)[number]) => number) => ms.reduce((a, m) => a + f(m), 0) / ms.length;
    const lc =
      reference && reference !== name && names.includes(reference) ? lengthChange(ms, per(reference)) : undefined;
    return {
      model: name,
      accuracy: mean((m) => m.accuracy),
      meanTokens: mean((m) => m.meanTokens),
      lengthReduction: lc?.reduction,
      totalTokenRatio: lc?.totalTokenRatio,
      reflectiveRate: mean((m) => m.reflectiveRate),
      hitLimit: ms.reduce((a, m) => a + m.hitLimit, 0),
    };
  });
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;

/** A fixed-width table shaped like the paper's Table 1. */
export function formatTable(rows: readonly TableRow[]): string {
  const header = ['model', 'acc %', 'mean tokens', 'length change', 'token ratio', 'reflective %', 'hit limit'];
  const body = rows.map((r) => [
    r.model,
    pct(r.accuracy),
    r.meanTokens.toFixed(1),
    r.lengthReduction === undefined ? '—' : `${r.lengthReduction >= 0 ? '−' : '+'}${pct(Math.abs(r.lengthReduction))}%`,
    r.totalTokenRatio === undefined ? '—' : r.totalTokenRatio.toFixed(2),
    pct(r.reflectiveRate),
    String(r.hitLimit),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** `recipes`: the recipe (mergekit YAML) that made each merged model, by model name. */
export function runsToJson(runs: readonly EvalRun[], recipes?: Readonly<Record<string, string>>): string {
  return JSON.stringify({ generatedBy: 'merge-lab', runs, ...(recipes ? { recipes } : {}) }, null, 2);
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One row per response; with `recipes`, a last column holds the recipe that made the row's model (empty for a source model). */
export function runsToCsv(runs: readonly EvalRun[], recipes?: Readonly<Record<string, string>>): string {
  const header = [
    'set',
    'model',
    'problem_id',
    'level',
    'correct',
    'extracted',
    'rule',
    'tokens',
    'hit_limit',
    'response',
    ...(recipes ? ['recipe'] : []),
  ];
  const rows = runs.flatMap((run) =>
    run.models.flatMap((m) =>
      m.responses.map((r) => [
        run.set.name,
        m.name,
        r.problemId,
        r.level,
        r.correct ? 1 : 0,
        r.extracted,
        r.rule,
        r.tokens,
        r.hitLimit ? 1 : 0,
        r.text,
        ...(recipes ? [recipes[m.name] ?? ''] : []),
      ]),
    ),
  );
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}
