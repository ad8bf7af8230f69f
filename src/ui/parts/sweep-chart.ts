/** A sweep as a chart: accuracy and mean length against the swept value (pure functions of the results). */
import type { ChartConfiguration } from 'chart.js';
import { sweepLabel } from '../state/labels';
import { colorOf } from './charts';

export interface SweepRow {
  readonly model: string;
  readonly accuracy: number;
  readonly meanTokens: number;
}

export interface SweepSeries {
  readonly param: string;
  /** One per evaluated sweep point, by increasing value. */
  readonly points: readonly { readonly value: number; readonly accuracy: number; readonly meanTokens: number }[];
}

/**
 * The evaluated sweep points of one parameter (the one most points share), by value; undefined
 * unless at least two of the rows are points of a sweep.
 */
export function sweepSeries(
  rows: readonly SweepRow[],
  sweepOf: (model: string) => { readonly param: string; readonly value: number } | undefined,
): SweepSeries | undefined {
  const swept = rows.flatMap((r) => {
    const s = sweepOf(r.model);
    return s ? [{ ...s, accuracy: r.accuracy, meanTokens: r.meanTokens }] : [];
  });
  const counts = new Map<string, number>();
  for (const s of swept) counts.set(s.param, (counts.get(s.param) ?? 0) + 1);
  const [param, count] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
  if (count < 2) return undefined;
  const points = swept
    .filter((s) => s.param === param)
    .map(({ value, accuracy, meanTokens }) => ({ value, accuracy, meanTokens }))
    .sort((a, b) => a.value - b.value);
  return { param, points };
}

/** Accuracy (left axis) and mean response length (right axis) against the swept value. */
export function sweepChart({ param, points }: SweepSeries): ChartConfiguration {
  const symbol = sweepLabel(param, 0).replace(/ = 0$/, '');
  return {
    type: 'line',
    data: {
      datasets: [
        {
          label: 'accuracy %',
          data: points.map((p) => ({ x: p.value, y: 100 * p.accuracy })),
          borderColor: colorOf(0),
          backgroundColor: colorOf(0),
          yAxisID: 'accuracy',
        },
        {
          label: 'mean response tokens',
          data: points.map((p) => ({ x: p.value, y: p.meanTokens })),
          borderColor: colorOf(1),
          backgroundColor: colorOf(1),
          borderDash: [5, 3],
          yAxisID: 'tokens',
        },
      ],
    },
    options: {
      scales: {
        x: { type: 'linear', title: { display: true, text: `swept value ${symbol}` } },
        accuracy: { position: 'left', min: 0, max: 100, title: { display: true, text: 'accuracy %' } },
        tokens: {
          position: 'right',
          min: 0,
          grid: { drawOnChartArea: false },
          title: { display: true, text: 'mean tokens' },
        },
      },
    },
  };
}
