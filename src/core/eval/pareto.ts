/** Accuracy-vs-length trade-offs: the Pareto frontier and the point a user would pick. */

export interface TradeoffPoint {
  readonly label: string;
  readonly accuracy: number;
  readonly meanTokens: number;
}

/** Points not dominated by another (at least as accurate and at most as long, one strictly), shortest first. */
export function paretoFrontier<P extends TradeoffPoint>(points: readonly P[]): P[] {
  const front = points.filter(
    (p) =>
      !points.some(
        (q) =>
          q !== p &&
          q.accuracy >= p.accuracy &&
          q.meanTokens <= p.meanTokens &&
          (q.accuracy > p.accuracy || q.meanTokens < p.meanTokens),
      ),
  );
  return front.sort((a, b) => a.meanTokens - b.meanTokens || b.accuracy - a.accuracy);
}

/** The shortest point whose accuracy is within `points` (e.g. 0.05 = 5 points) of the reference accuracy. */
export function pickShortestWithin<P extends TradeoffPoint>(
  points: readonly P[],
  referenceAccuracy: number,
  tolerance: number,
): P | undefined {
  return [...points]
    .filter((p) => p.accuracy >= referenceAccuracy - tolerance - 1e-12)
    .sort((a, b) => a.meanTokens - b.meanTokens || b.accuracy - a.accuracy)[0];
}
