import { describe, expect, it } from 'vitest';
import { type ResponseRecord, computeMetrics, lengthChange, quantile } from '../../src/core/eval/metrics';
import { paretoFrontier, pickShortestWithin } from '../../src/core/eval/pareto';
import { ProblemSetError, parseProblemSet } from '../../src/core/eval/problem-set';

const rec = (
  tokens: number,
  correct: boolean,
  level: number,
  text = 'The answer is 1.',
  hitLimit = false,
): ResponseRecord => ({
  problemId: String(tokens),
  level,
  text,
  tokens,
  hitLimit,
  extracted: '1',
  rule: 'answer-is',
  correct,
});

describe('metrics', () => {
  it('computes accuracy, length statistics, limit hits, reflection and levels', () => {
    const m = computeMetrics([
      rec(10, true, 1),
      rec(20, false, 1, 'Wait, wait.'),
      rec(30, true, 2),
      rec(100, true, 2, 'x', true),
    ]);
    expect(m.accuracy).toBe(0.75);
    expect(m.meanTokens).toBe(40);
    expect(m.medianTokens).toBe(25);
    expect(m.p90Tokens).toBeCloseTo(79, 10); // numpy: 30 + 0.7·70
    expect(m.totalTokens).toBe(160);
    expect(m.hitLimit).toBe(1);
    expect(m.reflectiveRate).toBe(0.25);
    expect(m.keywordFrequency.wait).toBe(0.5);
    expect(m.byLevel).toEqual([
      { level: 1, n: 2, accuracy: 0.5, meanTokens: 15 },
      { level: 2, n: 2, accuracy: 1, meanTokens: 65 },
    ]);
    expect(quantile([1, 2, 3, 4, 5], 0.9)).toBeCloseTo(4.6);
  });

  it("computes the paper's length change: 1 − mean over sets of L/L_ref", () => {
    // Paper, 7B TA: GSM8K 618/1062, MATH500 1617/2826 … here two sets by hand.
    const set = (meanTokens: number, n: number) =>
      computeMetrics(Array.from({ length: n }, () => rec(meanTokens, true, 1)));
    const { reduction, totalTokenRatio } = lengthChange([set(618, 2), set(1617, 1)], [set(1062, 2), set(2826, 1)]);
    expect(reduction).toBeCloseTo(1 - (618 / 1062 + 1617 / 2826) / 2, 12);
    expect(totalTokenRatio).toBeCloseTo((618 * 2 + 1617) / (1062 * 2 + 2826), 12);
  });
});

describe('Pareto frontier', () => {
  const pts = [
    { label: 'S2', accuracy: 0.65, meanTokens: 110 },
    { label: 'TA0.9', accuracy: 0.66, meanTokens: 100 },
    { label: 'TA0.7', accuracy: 0.62, meanTokens: 60 },
    { label: 'TA0.5', accuracy: 0.3, meanTokens: 10 },
    { label: 'bad', accuracy: 0.3, meanTokens: 70 },
    { label: 'S1', accuracy: 0.25, meanTokens: 6 },
  ];
  it('keeps non-dominated points, shortest first', () => {
    expect(paretoFrontier(pts).map((p) => p.label)).toEqual(['S1', 'TA0.5', 'TA0.7', 'TA0.9']);
  });
  it('picks the shortest point within X points of the reference accuracy', () => {
    expect(pickShortestWithin(pts, 0.65, 0.05)!.label).toBe('TA0.7');
    expect(pickShortestWithin(pts, 0.65, 0)!.label).toBe('TA0.9');
  });
});

describe('problem sets', () => {
  it('detects GSM8K, MATH and generic formats', () => {
    const g = parseProblemSet('{"question":"1+1?","answer":"1+1=2\\n#### 2","level":1}\n', 'g.jsonl');
    expect(g.format).toBe('gsm8k');
    expect(g.problems[0]).toMatchObject({ question: '1+1?', answer: '2', level: 1 });
    const m = parseProblemSet(
      '{"problem":"Half?","solution":"It is \\\\boxed{\\\\frac{1}{2}}.","level":"Level 3"}',
      'm.jsonl',
    );
    expect(m.format).toBe('math');
    expect(m.problems[0]).toMatchObject({ answer: '\\frac{1}{2}', level: 3 });
    const p = parseProblemSet('{"prompt":"Say 5","answer":5}', 'p.jsonl');
    expect(p.format).toBe('generic');
    expect(p.problems[0]!.answer).toBe('5');
  });

  it('reports malformed lines by number and skips or rejects them', () => {
    const text =
      '{"question":"a","answer":"#### 1"}\nnot json\n[1]\n{"question":"b","answer":"no hashes"}\n{"question":"c","answer":"#### 3"}';
    const s = parseProblemSet(text, 'x.jsonl');
    expect(s.problems.map((p) => p.answer)).toEqual(['1', '3']);
    expect(s.badLines).toEqual([
      { line: 2, reason: 'not valid JSON' },
      { line: 3, reason: 'not a JSON object' },
      { line: 4, reason: "'answer' does not end with '#### N'" },
    ]);
    expect(() => parseProblemSet(text, 'x.jsonl', { onBadLine: 'reject' })).toThrow(/x\.jsonl: line 2: not valid JSON/);
    expect(parseProblemSet('{"problem":"q","answer":"4"}', 'f.jsonl', { format: 'math' }).format).toBe('math');
  });

  it('rejects an empty set with a typed error naming the file', () => {
    expect(() => parseProblemSet('\n\n', 'empty.jsonl')).toThrow(ProblemSetError);
    expect(() => parseProblemSet('\n\n', 'empty.jsonl')).toThrow(/empty\.jsonl: the problem set is empty/);
    expect(() => parseProblemSet('garbage', 'bad.jsonl')).toThrow(/bad\.jsonl: no usable problems/);
  });
});
