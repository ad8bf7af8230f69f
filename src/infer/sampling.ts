/**
 * Next-token choice: greedy (argmax, lowest id on ties) or temperature / top-k / top-p sampling
 * from a seeded generator, so that a seed reproduces a sample exactly.
 */

export interface SamplingOptions {
  /** 0 or undefined: greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or undefined: all). */
  topP?: number;
  seed?: number;
}

/** mulberry32: a small, fast, seedable generator of uniform floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** Picks the next token from one row of logits. */
export function sampleToken(logits: ArrayLike<number>, opts: SamplingOptions, random: () => number): number {
  const t = opts.temperature ?? 0;
  if (!(t > 0)) return argmax(logits);
  const n = logits.length;
  // Candidates sorted by logit, descending; top-k cuts the list.
  let order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (opts.topK && opts.topK > 0 && opts.topK < n) order = order.slice(0, opts.topK);
  const max = logits[order[0]!]!;
  const weights = order.map((i) => Math.exp((logits[i]! - max) / t));
  let total = weights.reduce((s, w) => s + w, 0);
  const p = opts.topP ?? 1;
  if (p < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < order.length && cum < p * total) cum += weights[keep++]!;
    order = order.slice(0, Math.max(1, keep));
    weights.length = order.length;
    total = weights.reduce((s, w) => s + w, 0);
  }
  let r = random() * total;
  for (let k = 0; k < order.length; k++) {
    r -= weights[k]!;
    if (r < 0) return order[k]!;
  }
  return order[order.length - 1]!;
}
