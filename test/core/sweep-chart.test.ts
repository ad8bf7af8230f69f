/** The sweep chart's data: accuracy and mean length of each evaluated sweep point, by swept value. */
import { describe, expect, it } from 'vitest';
import { sweepChart, sweepSeries } from '../../src/ui/parts/sweep-chart';

const rows = [
  { model: 'demo-quick', accuracy: 0.5, meanTokens: 40 },
  { model: 'merge-3', accuracy: 0.75, meanTokens: 90 },
  { model: 'merge-2', accuracy: 0.25, meanTokens: 60 },
  { model: 'merge-1', accuracy: 1, meanTokens: 120 },
];
const sweeps: Record<string, { param: string; value: number }> = {
  'merge-1': { param: 'weight', value: 0.9 },
  'merge-2': { param: 'weight', value: 0.5 },
  'merge-3': { param: 'weight', value: 0.7 },
};

describe('sweep chart', () => {
  it('orders the sweep points by value and leaves the sources out', () => {
    const s = sweepSeries(rows, (m) => sweeps[m])!;
    expect(s).toEqual({
      param: 'weight',
      points: [
        { value: 0.5, accuracy: 0.25, meanTokens: 60 },
        { value: 0.7, accuracy: 0.75, meanTokens: 90 },
        { value: 0.9, accuracy: 1, meanTokens: 120 },
      ],
    });
    const chart = sweepChart(s);
    expect(chart.data.datasets.map((d) => d.data)).toEqual([
      [
        { x: 0.5, y: 25 },
        { x: 0.7, y: 75 },
        { x: 0.9, y: 100 },
      ],
      [
        { x: 0.5, y: 60 },
        { x: 0.7, y: 90 },
        { x: 0.9, y: 120 },
      ],
    ]);
    expect(JSON.stringify(chart.options)).toContain('swept value α');
  });

  it('draws nothing for fewer than two sweep points', () => {
    expect(sweepSeries(rows, (m) => (m === 'merge-1' ? sweeps[m] : undefined))).toBeUndefined();
    expect(sweepSeries(rows, () => undefined)).toBeUndefined();
  });
});
