/** The paper's reflective-response keywords (Wu et al. 2025) and counters. */

export const REFLECTION_KEYWORDS = [
  'wait',
  're-examine',
  'recap',
  'double-check',
  'let me check',
  'let me just check',
  'let me verify',
  'let me just verify',
] as const;

const PATTERNS = REFLECTION_KEYWORDS.map((k) => [k, new RegExp(`\\b${k.replace(/-/g, '\\-')}\\b`, 'gi')] as const);

/** Occurrences of each keyword (case-insensitive, whole words). */
export function countReflections(text: string): Record<(typeof REFLECTION_KEYWORDS)[number], number> {
  const out = {} as Record<(typeof REFLECTION_KEYWORDS)[number], number>;
  for (const [k, re] of PATTERNS) out[k] = text.match(re)?.length ?? 0;
  return out;
}

/** A response is reflective when it contains any keyword (the paper's definition). */
export function isReflective(text: string): boolean {
  return PATTERNS.some(([, re]) => {
    re.lastIndex = 0;
    return re.test(text);
  });
}
