import { describe, expect, it } from 'vitest';
import { answersMatch, extractAnswer, normalizeAnswer } from '../../src/core/eval/extract';
import { REFLECTION_KEYWORDS, countReflections, isReflective } from '../../src/core/eval/reflection';

describe('answer extraction', () => {
  it.each([
    ['Natalia sold 48/2 = 24 clips in May.\n#### 72', '72', 'hash'],
    ['So the total is \\boxed{\\frac{3}{4}}.', '\\frac{3}{4}', 'boxed'],
    ['First \\boxed{2}, then on reflection \\boxed{\\dfrac{1}{\\sqrt{2}}}', '\\dfrac{1}{\\sqrt{2}}', 'boxed'],
    ['#43-35=8. So the answer is 8. Wait, let me double-check: 43-35=8. Yes, the answer is 8.', '8', 'answer-is'],
    ['The answer is -17.', '-17', 'answer-is'],
    ['The answer is 3.5 dollars.', '3.5 dollars', 'answer-is'],
    ['She has 5 apples, then 7, so 12', '12', 'last-number'],
    ['I have no idea', undefined, 'none'],
  ])('%j → %j by %s', (text, answer, rule) => {
    const e = extractAnswer(text);
    expect(e.answer).toBe(answer);
    expect(e.rule).toBe(rule);
  });

  it('normalises numbers, units and simple LaTeX', () => {
    expect(normalizeAnswer('1,000')).toBe('1000');
    expect(normalizeAnswer('$18.00')).toBe('18');
    expect(normalizeAnswer('\\$5')).toBe('5');
    expect(normalizeAnswer('18 dollars')).toBe('18');
    expect(normalizeAnswer('5 cm')).toBe('5');
    expect(normalizeAnswer('\\text{12 apples}')).toBe('12');
    expect(normalizeAnswer('\\frac{3}{4}')).toBe('3/4');
    expect(normalizeAnswer('\\dfrac{10}{4}')).toBe('10/4');
    expect(normalizeAnswer('\\frac12')).toBe('1/2');
    expect(normalizeAnswer('7.0')).toBe('7');
    expect(normalizeAnswer('+7')).toBe('7');
    expect(normalizeAnswer('50\\%')).toBe('50');
    expect(normalizeAnswer('90^\\circ')).toBe('90');
  });

  it('matches fractions with decimals and negative numbers', () => {
    expect(answersMatch('\\frac{3}{4}', '0.75')).toBe(true);
    expect(answersMatch('0.75', '3/4')).toBe(true);
    expect(answersMatch('\\dfrac{10}{4}', '2.5')).toBe(true);
    expect(answersMatch('-17', '-17')).toBe(true);
    expect(answersMatch('17', '-17')).toBe(false);
    expect(answersMatch('$1,234.00', '1234')).toBe(true);
    expect(answersMatch(undefined, '3')).toBe(false);
    expect(answersMatch('x + 1', 'X+1')).toBe(true);
  });
});

describe('reflection keywords', () => {
  it('uses the paper list and counts whole words case-insensitively', () => {
    expect(REFLECTION_KEYWORDS).toEqual([
      'wait',
      're-examine',
      'recap',
      'double-check',
      'let me check',
      'let me just check',
      'let me verify',
      'let me just verify',
    ]);
    const text = 'So 8. Wait, let me double-check. WAIT. Let me verify: yes. Let me just check again. Awaited results.';
    const c = countReflections(text);
    expect(c.wait).toBe(2);
    expect(c['double-check']).toBe(1);
    expect(c['let me verify']).toBe(1);
    expect(c['let me just check']).toBe(1);
    expect(c['let me check']).toBe(0);
    expect(isReflective(text)).toBe(true);
    expect(isReflective('The answer is 8.')).toBe(false);
    expect(isReflective('I awaited the recapitulation')).toBe(false);
  });
});
