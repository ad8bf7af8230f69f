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

export { seededRandom } from '../core/random';

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * Picks the next token from one row of logits: softmax(logits / T) restricted to the top-k, then
 * to the nucleus (smallest set of most likely tokens whose probability reaches top-p). O(V) plus
 * a sort of the few candidates: with a 150k vocabulary, sorting every token each step would cost
 * more than the decode step itself.
 */
export function sampleToken(logits: ArrayLike<number>, opts: SamplingOptions, random: () => number): number {
  const t = opts.temperature ?? 0;
  if (!(t > 0)) return argmax(logits);
  const n = logits.length;
  const max = logits[argmax(logits)]!;
  // Candidate set: all tokens, or the top-k (ties broken by the lower id).
  let cand: number[];
  const k = opts.topK && opts.topK > 0 && opts.topK < n ? opts.topK : 0;
  if (k) cand = topKIndices(logits, k);
  else cand = Array.from({ length: n }, (_, i) => i);
  let weights = cand.map((i) => Math.exp((logits[i]! - max) / t));
  let total = weights.reduce((a, w) => a + w, 0);
  const p = opts.topP ?? 1;
  if (p < 1) {
    // Tokens lighter than θ = (1 − p)·total / n together weigh less than (1 − p)·total, so the
    // nucleus never reaches them: only the heavier ones need sorting.
    const theta = ((1 - p) * total) / n;
    let keep = cand.map((i, j) => [i, weights[j]!] as const).filter(([, w]) => w >= theta);
    keep.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    let cum = 0;
    let m = 0;
    while (m < keep.length && cum < p * total) cum += keep[m++]![1];
    keep = keep.slice(0, Math.max(1, m));
    cand = keep.map(([i]) => i);
    weights = keep.map(([, w]) => w);
    total = weights.reduce((a, w) => a + w, 0);
  }
  let r = random() * total;
  for (let j = 0; j < cand.length; j++) {
    r -= weights[j]!;
    if (r < 0) return cand[j]!;
  }
  return cand[cand.length - 1]!;
}

/** Indices of the k largest logits, largest first (ties: lower id first), in O(V·log k). */
function topKIndices(logits: ArrayLike<number>, k: number): number[] {
  // A min-heap of the best k seen so far; its root is the weakest of them.
  const heap: number[] = [];
  const worse = (a: number, b: number) => logits[a]! < logits[b]! || (logits[a] === logits[b] && a > b);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = 0; i < logits.length; i++) {
    if (heap.length < k) {
      heap.push(i);
      for (let c = heap.length - 1; c > 0;) {
        const parent = (c - 1) >> 1;
        if (!worse(heap[c]!, heap[parent]!)) break;
        [heap[c], heap[parent]] = [heap[parent]!, heap[c]!];
        c = parent;
      }
    } else if (worse(heap[0]!, i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => logits[b]! - logits[a]! || a - b);
}
