/** Chart configurations for the comparison step (pure functions of the results). */
import type { ChartConfiguration } from 'chart.js';
import { paretoFrontier, type TradeoffPoint } from '../../core/eval/pareto';
import type { ModelResult } from '../../core/eval/run';
import type { SpectrumDiagnostics } from '../../core/merge/diagnostics';

const PALETTE = ['#1f8a70', '#c2410c', '#3552d6', '#8e44ad', '#b7950b', '#2e86c1', '#d35400', '#16a085'];
export const colorOf = (i: number) => PALETTE[i % PALETTE.length]!;

/** Histogram of response lengths, shared bins across models. */
export function lengthHistogram(models: readonly ModelResult[], bins = 12): ChartConfiguration {
  const all = models.flatMap((m) => m.responses.map((r) => r.tokens));
  const max = Math.max(1, ...all);
  const width = Math.max(1, Math.ceil(max / bins));
  const labels = Array.from({ length: bins }, (_, i) => `${i * width}–${(i + 1) * width - 1}`);
  return {
    type: 'bar',
    data: {
      labels,
      datasets: models.map((m, i) => ({
        label: m.name,
        backgroundColor: colorOf(i),
        data: labels.map(
          (_, b) => m.responses.filter((r) => Math.min(bins - 1, Math.floor(r.tokens / width)) === b).length,
        ),
      })),
    },
    options: {
      scales: {
        x: { title: { display: true, text: 'response tokens' } },
        y: { title: { display: true, text: 'responses' } },
      },
    },
  };
}

/** Accuracy against mean length, with the Pareto frontier drawn through the sweep points. */
export function accuracyVsLength(points: readonly (TradeoffPoint & { group?: string })[]): ChartConfiguration {
  const front = paretoFrontier(points);
  return {
    type: 'scatter',
    data: {
      datasets: [
        ...points.map((p, i) => ({
          label: p.label,
          data: [{ x: p.meanTokens, y: 100 * p.accuracy }],
          backgroundColor: colorOf(i),
          pointRadius: 6,
        })),
        {
          type: 'line' as const,
          label: 'Pareto frontier',
          data: front.map((p) => ({ x: p.meanTokens, y: 100 * p.accuracy })),
          borderColor: '#888',
          borderDash: [4, 4],
          pointRadius: 0,
          fill: false,
        },
      ],
    },
    options: {
      scales: {
        x: { type: 'linear', title: { display: true, text: 'mean response tokens' } },
        y: { title: { display: true, text: 'accuracy %' }, min: 0, max: 100 },
      },
    },
  };
}

/** Mean length by difficulty level, one line per model. */
export function lengthByLevel(models: readonly ModelResult[]): ChartConfiguration {
  const levels = [...new Set(models.flatMap((m) => m.metrics.byLevel.map((l) => l.level)))].sort((a, b) => a - b);
  return {
    type: 'line',
    data: {
      labels: levels.map(String),
      datasets: models.map((m, i) => ({
        label: m.name,
        borderColor: colorOf(i),
        backgroundColor: colorOf(i),
        data: levels.map((l) => m.metrics.byLevel.find((x) => x.level === l)?.meanTokens ?? null),
      })),
    },
    options: {
      scales: {
        x: { title: { display: true, text: 'difficulty level (operations)' } },
        y: { title: { display: true, text: 'mean tokens' }, min: 0 },
      },
    },
  };
}

/** Normalised singular values σ_i/σ_1 of a few decomposed weights (log scale): fast decay = low rank. */
export function spectrumChart(spectra: readonly SpectrumDiagnostics[], max = 8): ChartConfiguration {
  const shown = spectra.slice(0, max);
  const len = Math.max(0, ...shown.map((s) => s.singularValues.length));
  return {
    type: 'line',
    data: {
      labels: Array.from({ length: len }, (_, i) => String(i + 1)),
      datasets: shown.map((s, i) => ({
        label: `${s.tensor.replace(/^model\./, '')} (${s.model})`,
        borderColor: colorOf(i),
        backgroundColor: colorOf(i),
        pointRadius: 0,
        data: s.singularValues.map((v) => v / (s.singularValues[0] || 1)),
      })),
    },
    options: {
      scales: {
        x: { title: { display: true, text: 'index i' } },
        y: { type: 'logarithmic', title: { display: true, text: 'σ_i / σ_1' } },
      },
    },
  };
}
