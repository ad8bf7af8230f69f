/**
 * Answer extraction and normalisation, in the spirit of the Qwen2.5-Math evaluation toolkit the
 * paper uses: the last \boxed{…}, else `#### N`, else the last "the answer is …", else the last
 * number. Every extraction records which rule fired.
 */

export type ExtractionRule = 'boxed' | 'hash' | 'answer-is' | 'last-number' | 'none';

export interface Extraction {
  readonly answer: string | undefined;
  readonly rule: ExtractionRule;
}

/** Contents of the last \boxed{…} (or \fbox{…}), honouring nested braces. */
export function lastBoxed(text: string): string | undefined {
  // Each '{' is matched to its '}' in one pass (scanning forward from every \boxed{ is quadratic
  // on text with many unclosed ones, which an untrusted problem set can hold).
  const closing = new Map<number, number>();
  const open: number[] = [];
  for (let i = 0; i < text.length; i++)
    if (text[i] === '{') open.push(i);
    else if (text[i] === '}' && open.length) closing.set(open.pop()!, i);
  let found: string | undefined;
  for (const m of text.matchAll(/\\(?:boxed|fbox)\s*\{/g)) {
    const brace = m.index + m[0].length - 1;
    const end = closing.get(brace);
    if (end !== undefined) found = text.slice(brace + 1, end);
  }
  return found;
}

const NUMBER = /[-+]?\$?\d[\d,]*(?:\.\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?/g;

export function extractAnswer(text: string): Extraction {
  const boxed = lastBoxed(text);
  if (boxed !== undefined) return { answer: boxed.trim(), rule: 'boxed' };
  const hash = [...text.matchAll(/####\s*([^\n]+)/g)].pop();
  if (hash) return { answer: hash[1]!.trim(), rule: 'hash' };
  const said = [...text.matchAll(/answer is[:\s]*([^\n]*?)(?:\.(?:\s|$)|\n|$)/gi)].pop();
  if (said && said[1]!.trim()) return { answer: said[1]!.trim(), rule: 'answer-is' };
  const nums = text.match(NUMBER);
  if (nums?.length) return { answer: nums[nums.length - 1]!.trim(), rule: 'last-number' };
  return { answer: undefined, rule: 'none' };
}

/** Replaces \frac{a}{b} (and \dfrac, \tfrac, \frac12) with a/b, innermost first. */
function fracToSlash(s: string): string {
  let prev;
  do {
    prev = s;
    s = s
      .replace(/\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, '($1)/($2)')
      .replace(/\\[dt]?frac\s*(\d)(\d)/g, '$1/$2');
  } while (s !== prev);
  return s.replace(/\((-?[\d.]+)\)/g, '$1');
}

/** A canonical string for an answer: LaTeX and units stripped, numbers in plain form. */
export function normalizeAnswer(raw: string): string {
  let s = raw.trim();
  s = s.replace(/\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}/g, '$1');
  s = s.replace(/\\left|\\right|\\!|\\,|\\;|\\ /g, '');
  s = s.replace(/\\\$|\$|\\%|%|\^\s*\{?\\circ\}?|°/g, '');
  s = fracToSlash(s);
  s = s.replace(/\s+/g, ' ').trim();
  s = s.replace(/(\d),(?=\d{3}\b)/g, '$1');
  s = s.replace(/\.$/, '').trim();
  // A number followed by a unit word ("18 dollars", "5 cm") is the number.
  const numUnit = /^([-+]?\d+(?:\.\d+)?(?:\s*\/\s*\d+(?:\.\d+)?)?)\s*[a-zA-Z][a-zA-Z\s.]*$/.exec(s);
  if (numUnit) s = numUnit[1]!;
  s = s.replace(/\s*\/\s*/g, '/');
  const n = numericValue(s);
  if (n !== undefined && /^[-+]?\d+(?:\.\d+)?$/.test(s)) return String(n);
  return s.replace(/^\+/, '');
}

/** The value of a plain number or a/b fraction, else undefined. */
export function numericValue(s: string): number | undefined {
  const m = /^([-+]?\d+(?:\.\d+)?)(?:\/([-+]?\d+(?:\.\d+)?))?$/.exec(s.replace(/\s+/g, ''));
  if (!m) return undefined;
  const v = m[2] !== undefined ? Number(m[1]) / Number(m[2]) : Number(m[1]);
  return Number.isFinite(v) ? v : undefined;
}

/** Compares two answers numerically where both are numbers (fractions ↔ decimals), else as text. */
export function answersMatch(predicted: string | undefined, gold: string): boolean {
  if (predicted === undefined) return false;
  const a = normalizeAnswer(predicted);
  const b = normalizeAnswer(gold);
  const x = numericValue(a);
  const y = numericValue(b);
  if (x !== undefined && y !== undefined) return Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(y));
  const text = (s: string) => s.replace(/\s+/g, '').toLowerCase();
  return text(a) === text(b);
}
