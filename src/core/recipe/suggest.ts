/**
 * "Did you mean …?" for recipe keys: the closest known name by optimal-string-alignment distance
 * (Levenshtein plus adjacent transpositions, so `desnity` and `wieght` are one edit away).
 */

/** Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/**
 * The candidate `key` most likely is a typo of, or undefined: at most one edit for keys of 3–4
 * characters, two from 5 on, none for shorter ones (too many names are that close). Earlier
 * candidates win ties.
 */
export function closestName(key: string, candidates: readonly string[]): string | undefined {
  const allowed = key.length <= 2 ? 0 : key.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const c of candidates) {
    const dist = editDistance(key.toLowerCase(), c.toLowerCase());
    if (c !== key && dist < bestDistance) [best, bestDistance] = [c, dist];
  }
  return best;
}
