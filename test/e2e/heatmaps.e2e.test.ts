/**
 * Pictures of what a merge did, in Chromium: a TA and a TIES merge of the demo models draw layer ×
 * module heatmaps whose cells hold the figures the engine computes for the same recipe in Node;
 * the tensor table is one click (or one Enter) away; a sweep charts accuracy and length against the
 * swept value. With SCREENSHOTS=1 the Merge step's heatmaps and the Compare step after a sweep are
 * written to docs/ (the README's pictures).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { type HeatmapMetric, metricValue } from '../../src/core/merge/diagnostics';
import { merge } from '../../src/core/merge/execute';
import { parseRecipe } from '../../src/core/recipe/parse';
import { FsModelFolder } from '../../src/node/fs-folder';
import { freshLabPerTest, setUpCompare } from './harness';

const SCREENSHOTS = process.env.SCREENSHOTS === '1';
const DEMO_LAYERS = 4;
const TA =
  'merge_method: task_arithmetic\nbase_model: demo-quick\nmodels:\n  - model: demo-slow\n    parameters:\n      weight: 0.7\n';
const TIES = `merge_method: ties
base_model: demo-base
models:
  - model: demo-quick
    parameters: {weight: 1, density: 0.2}
  - model: demo-slow
    parameters: {weight: 1, density: 0.2}
parameters:
  lambda: 1
`;

/** The engine's per-tensor diagnostics for `yaml` on the demo models, merged in Node on the CPU. */
async function engineDiagnostics(yaml: string) {
  const sources = new Map<string, Checkpoint>();
  for (const m of ['demo-base', 'demo-quick', 'demo-slow'])
    sources.set(m, await Checkpoint.open(new FsModelFolder(`public/models/${m}`)));
  const summary = await merge(parseRecipe(yaml).recipe, sources, new CpuBackend(), new MemoryOutputFolder(), {
    diagnostics: true,
  });
  for (const c of sources.values()) await c.close();
  return summary.diagnostics;
}

async function mergeYaml(page: Page, yaml: string): Promise<void> {
  await page.click('[data-testid=step-recipe]');
  await page.locator('[data-testid=yaml]').fill(yaml);
  await page.click('[data-testid=step-merge]');
  await page.click('[data-testid=run-merge]');
  await page.locator('[data-testid=merge-done]').waitFor({ timeout: 120_000 });
}

const heatmap = (page: Page, metric: HeatmapMetric) => page.locator(`[data-testid=heatmap][data-metric=${metric}]`);

/** The heatmap of `metric` has layers × 7 cells, and the named cells hold the engine's figures. */
async function expectCells(
  page: Page,
  metric: HeatmapMetric,
  engine: Awaited<ReturnType<typeof engineDiagnostics>>,
  cells: readonly [number, string][],
): Promise<void> {
  expect(await heatmap(page, metric).locator('[data-testid=heatmap-cell]').count()).toBe(DEMO_LAYERS * 7);
  for (const [layer, module] of cells) {
    const cell = heatmap(page, metric).locator(`[data-layer="${layer}"][data-module="${module}"]`);
    const tensor = (await cell.getAttribute('data-tensor'))!;
    expect(tensor).toMatch(new RegExp(`layers\\.${layer}\\..*${module}_proj\\.weight$`));
    const want = metricValue(engine[tensor]!, metric)!;
    const got = Number(await cell.getAttribute('data-value'));
    // The page merges on WebGPU (f32 reductions), Node on the CPU.
    expect(Math.abs(got - want), `${metric} ${tensor}: ${got} vs ${want}`).toBeLessThanOrEqual(
      1e-4 * Math.max(1, Math.abs(want)),
    );
    expect(await cell.locator('title').textContent()).toContain(tensor);
  }
}

describe('pictures of what a merge did', () => {
  const lab = freshLabPerTest();

  it('TA and TIES merges draw layer × module heatmaps of the engine figures, the table one click away', async () => {
    const { page } = lab();
    await mergeYaml(page, TA);
    // One task vector: its norm map only (no cosine, no sign conflicts, nothing trimmed).
    expect(await page.locator('[data-testid=heatmap]').evaluateAll((els) => els.map((e) => e.dataset.metric))).toEqual([
      'norm',
    ]);
    await expectCells(page, 'norm', await engineDiagnostics(TA), [
      [0, 'q'],
      [3, 'down'],
    ]);

    await mergeYaml(page, TIES);
    expect(await page.locator('[data-testid=heatmap]').evaluateAll((els) => els.map((e) => e.dataset.metric))).toEqual([
      'norm',
      'cosine',
      'signConflicts',
      'trimmed',
    ]);
    const engine = await engineDiagnostics(TIES);
    await expectCells(page, 'norm', engine, [[1, 'v']]);
    await expectCells(page, 'cosine', engine, [
      [0, 'gate'],
      [2, 'k'],
    ]);
    await expectCells(page, 'signConflicts', engine, [
      [1, 'o'],
      [3, 'up'],
    ]);
    await expectCells(page, 'trimmed', engine, [[2, 'q']]);
    if (SCREENSHOTS)
      await page.locator('[data-testid=diagnostics-panel]').screenshot({ path: 'docs/merge-heatmaps.png' });

    // The tensor table is one click away, and back.
    expect(await page.locator('[data-testid=diagnostics]').count()).toBe(0);
    await page.click('[data-testid=diag-view-table]');
    expect(await page.locator('[data-testid=diagnostics] tbody tr').count()).toBeGreaterThanOrEqual(DEMO_LAYERS * 7);
    await page.click('[data-testid=diag-view-pictures]');
    expect(await page.locator('[data-testid=heatmap]').count()).toBe(4);

    // Keyboard: the grid is one tab stop; arrows move, Enter opens the cell's tensor in the table.
    const first = heatmap(page, 'cosine').locator('[data-testid=heatmap-cell][tabindex="0"]');
    await first.focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowRight');
    expect(await heatmap(page, 'cosine').locator('[data-testid=heatmap-detail]').textContent()).toMatch(
      /^layer 1 k: -?\d\.\d{3} \(model\.layers\.1\.self_attn\.k_proj\.weight\)$/,
    );
    await page.keyboard.press('Enter');
    expect(await page.locator('[data-testid=diagnostics] tr.picked').getAttribute('data-tensor')).toBe(
      'model.layers.1.self_attn.k_proj.weight',
    );
  }, 400_000);

  it('a sweep charts accuracy and mean length against the swept value', async () => {
    const { page } = lab();
    await page.click('[data-testid=step-recipe]');
    await page.click('[data-testid=preset-ta]');
    await setUpCompare(
      page,
      ['demo-quick'],
      SCREENSHOTS ? { problems: 8, maxNewTokens: 48 } : { problems: 1, maxNewTokens: 8 },
    );
    await page.locator('[data-testid=sweep-values]').fill('0.3, 0.6, 0.9');
    await page.click('[data-testid=run-sweep]');
    await page.locator('[data-testid=results-table]').waitFor({ timeout: 400_000 });
    await page.locator('[data-testid=chart-sweep] canvas').waitFor();
    expect(await page.locator('[data-testid=chart-sweep] figcaption').textContent()).toMatch(/swept value/);
    expect(await page.locator('[data-testid=chart-sweep-values]').textContent()).toBe('0.3 · 0.6 · 0.9');
    if (SCREENSHOTS)
      await page.locator('section[aria-labelledby=compare-h]').screenshot({ path: 'docs/compare-sweep.png' });
  }, 600_000);
});
