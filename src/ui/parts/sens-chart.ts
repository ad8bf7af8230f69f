/** Sens-Merging's per-layer coefficients λ·w^l as a chart and as table rows (pure functions of the compile). */
import type { ChartConfiguration } from 'chart.js';
import { type CompiledSens, layerCoefficients } from '../../core/sens/compile';
import { colorOf } from './charts';

/** `model.layers.3` → `block 3`; the extra groups keep their short names. */
export const groupLabel = (g: string): string =>
  g.replace(/^model\.layers\.(\d+)$/, 'block $1').replace(/^model\./, '');

/** The models whose task vectors the coefficients scale (the base's δ is zero). */
export function weightedModels(c: CompiledSens, base: string | undefined): string[] {
  return c.coefficients.models.filter((m) => m !== base);
}

export function sensCoefficientChart(c: CompiledSens, base: string | undefined): ChartConfiguration {
  const rows = layerCoefficients(c);
  const models = weightedModels(c, base);
  return {
    type: 'line',
    data: {
      labels: rows.map((r) => groupLabel(r.group)),
      datasets: [
        ...models.map((m, k) => ({
          label: `λ·w ${m}`,
          data: rows.map((r) => r.values[c.coefficients.models.indexOf(m)]!),
          borderColor: colorOf(k),
          backgroundColor: colorOf(k),
        })),
        { label: `λ = ${c.lambda}`, data: rows.map(() => c.lambda), borderDash: [4, 4], pointRadius: 0 },
      ],
    },
    options: { scales: { y: { title: { display: true, text: 'coefficient of the task vector' } } } },
  };
}
