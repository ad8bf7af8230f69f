/**
 * What the page says, in one Chromium page at 1400 px:
 * - the Recipe step's words are right: SVD methods are not "a weighted average", oversample and
 *   power_iters show the engine's defaults (from the parameter table), the toy tensor follows the
 *   weight and λ fields, and the YAML view promises mergekit only for recipes mergekit runs;
 * - the toy explanation of della, model_stock and passthrough (slices) follows their parameters;
 * - the Recipe form fits its column (nothing sticks out, the per-layer buttons included);
 * - no silent wait: the first Evaluate says it is starting the runtime and loading model n of m,
 *   a disabled Merge or Evaluate button says why, Max new tokens −5 and Problems 0 are refused,
 *   and a checkpoint without a tokenizer is flagged when it is added (and cannot be ticked in Compare).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PARAMETERS } from '../../src/core/merge/methods/parameters';
import { writeTinyModel } from '../helpers/checkpoints';
import { freshLabPerTest, setUpCompare } from './harness';

/** Types a value into a number field and commits it (its change event). */
async function setNumber(page: Page, label: string, value: number): Promise<void> {
  const input = page.getByLabel(label, { exact: true });
  await input.fill(String(value));
  await input.dispatchEvent('change');
}

const toyMerged = (page: Page) => page.locator('[data-testid=toy-merged] td').allInnerTexts();

/** Elements of the Recipe form that stick out of its panel (by more than a pixel), described. */
const overflowing = (page: Page) =>
  page.evaluate(() => {
    const panel = document.querySelector('[aria-labelledby=recipe-h] .panel.form')!;
    const edge = panel.getBoundingClientRect().right;
    return [...panel.querySelectorAll('*')]
      .filter((el) => el.getBoundingClientRect().width > 0 && el.getBoundingClientRect().right > edge + 1)
      .map((el) => `${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 20)}"`);
  });

/** The explainer's merged row once it shows `method` (the engine computes it asynchronously). */
async function toyOf(page: Page, method: string): Promise<string[]> {
  await page.locator(`[data-testid=explainer][data-method=${method}] [data-testid=toy-merged]`).waitFor();
  return toyMerged(page);
}

/** Waits until the merged toy row differs from `before` (a parameter changed it), and returns it. */
async function toyChanged(page: Page, before: string[]): Promise<string[]> {
  await expect.poll(() => toyMerged(page)).not.toEqual(before);
  return toyMerged(page);
}

describe('the words of the lab', () => {
  const lab = freshLabPerTest();

  it('explains della, model_stock and passthrough on the toy, following their parameters (issue 19)', async () => {
    const { page } = lab();
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.click('[data-testid=step-recipe]');
    const explainer = page.locator('[data-testid=explainer]');

    // DELLA: keep probabilities by rank, dropped cells, the elected sign; ε moves the toy.
    await page.selectOption('[data-testid=method]', 'della');
    const della = await toyOf(page, 'della');
    expect(della).toHaveLength(8);
    // The toy merge runs in the explain worker, not on the page's main thread.
    expect(page.workers().map((w) => w.url())).toContainEqual(expect.stringMatching(/explain\.worker/));
    expect(await explainer.locator('th', { hasText: /^keep p/ }).count()).toBeGreaterThan(0);
    expect(await explainer.locator('td.dropped').count()).toBeGreaterThan(0);
    await setNumber(page, 'epsilon (ε)', 0.05);
    await toyChanged(page, della);

    // Model Stock: the angle and t it computes; filter_wise gives one t per row.
    await page.selectOption('[data-testid=method]', 'model_stock');
    const stock = await toyOf(page, 'model_stock');
    expect(await page.locator('[data-testid=toy-facts]').innerText()).toMatch(/cos θ[\s\S]*t = N cos θ/);
    await page.getByLabel(PARAMETERS.filter_wise.description).check();
    await toyChanged(page, stock);
    expect(await page.locator('[data-testid=toy-facts]').innerText()).toMatch(/row 1: t/);

    // Passthrough with slices: which layer of which model each output layer is.
    await page
      .locator('[data-testid=yaml]')
      .fill(
        [
          'merge_method: passthrough',
          'slices:',
          '  - sources: [{model: demo-quick, layer_range: [0, 2]}]',
          '  - sources: [{model: demo-slow, layer_range: [1, 3], parameters: {scale: 0.5}}]',
        ].join('\n'),
      );
    await page.locator('[data-testid=explainer][data-method=passthrough]').waitFor();
    await expect.poll(() => toyMerged(page)).toEqual(['demo-quick.0', 'demo-quick.1', 'demo-slow.1', 'demo-slow.2']);
    expect(await explainer.innerText()).toMatch(/out layer 2 ← demo-slow layer 1 × 0.5/);
  }, 60_000);

  it('explains methods and defaults, fits 1400 px, says what every wait and refusal is', async () => {
    const { page } = lab();
    await page.setViewportSize({ width: 1400, height: 900 });

    // The toy tensor follows weight and λ: merged δ_0 = λ (w · 0.9 − 0.5).
    await page.click('[data-testid=step-recipe]');
    await page.click('[data-testid=preset-ta]');
    await expect.poll(async () => (await toyMerged(page))[0]).toBe('0.13'); // w = 0.7, λ = 1
    await setNumber(page, 'weight', 0.2);
    await expect.poll(async () => (await toyMerged(page))[0]).toBe('-0.32');
    await setNumber(page, 'lambda (λ)', 2);
    await expect.poll(async () => (await toyMerged(page))[0]).toBe('-0.64');
    expect(await page.locator('[data-testid=mergekit-note]').innerText()).toMatch(/runs unchanged in mergekit/);
    expect(await overflowing(page)).toEqual([]);

    // An SVD method: its own words, the engine's defaults, and no mergekit promise.
    await page.selectOption('[data-testid=method]', 'tsv');
    const words = await page.locator('[data-testid=method-words]').innerText();
    expect(words).not.toMatch(/weighted average/);
    expect(words).toMatch(/singular/);
    expect(await page.getByLabel('oversample', { exact: true }).inputValue()).toBe(
      String(PARAMETERS.oversample.default),
    );
    expect(await page.getByLabel('power_iters', { exact: true }).inputValue()).toBe(
      String(PARAMETERS.power_iters.default),
    );
    const note = page.locator('[data-testid=mergekit-note]');
    expect(await note.getAttribute('data-runs')).toBe('false');
    expect(await note.innerText()).not.toMatch(/runs unchanged/);
    expect(await note.innerText()).toMatch(/tsv is a Merge Lab extension/);
    expect(await overflowing(page)).toEqual([]);

    // AIM on a mergekit method: no promise either.
    await page.click('[data-testid=preset-ta]');
    await page.check('[data-testid=aim-panel] input[type=checkbox]');
    expect(await note.getAttribute('data-runs')).toBe('false');
    expect(await note.innerText()).toMatch(/AIM/);

    // A disabled Merge button says why.
    await page.click('[data-testid=step-merge]');
    expect(await page.locator('[data-testid=run-merge]').isDisabled()).toBe(true);
    expect(await page.locator('[data-testid=merge-why]').innerText()).toMatch(/calibration statistics/);
    await page.click('[data-testid=step-recipe]');
    await page.uncheck('[data-testid=aim-panel] input[type=checkbox]');
    await page.locator('[data-testid=yaml]').fill('merge_method: no_such_method\n');
    await page.click('[data-testid=step-merge]');
    expect(await page.locator('[data-testid=run-merge]').isDisabled()).toBe(true);
    expect(await page.locator('[data-testid=merge-why]').innerText()).toMatch(/does not parse/);
    await page.click('[data-testid=step-recipe]');
    await page.click('[data-testid=preset-ta]');

    // A checkpoint without a tokenizer is flagged as it is added.
    const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-e2e-'));
    writeTinyModel(path.join(dir, 'bare'), { seed: 7 });
    await page.click('[data-testid=step-models]');
    await page
      .locator('[data-testid=files-input]')
      .setInputFiles(['config.json', 'model.safetensors'].map((f) => path.join(dir, 'bare', f)));
    const bare = page.locator('[data-testid=model-card][data-model="local model"][data-status=ready]');
    await bare.waitFor({ timeout: 30_000 });
    expect(await bare.locator('[data-testid=model-warning]').innerText()).toMatch(/no tokenizer\.json/);

    // Out-of-range settings are refused, with the reason beside Evaluate.
    await setUpCompare(page, ['demo-quick'], { problems: 1, maxNewTokens: -5 });
    const models = page.locator('fieldset', { hasText: 'Models' });
    expect(await models.locator('label', { hasText: 'local model' }).locator('input').isDisabled()).toBe(true);
    expect(await page.locator('[data-testid=max-new-tokens-error]').innerText()).toMatch(/Max new tokens must be/);
    expect(await page.locator('[data-testid=run-eval]').isDisabled()).toBe(true);
    expect(await page.locator('[data-testid=eval-why]').innerText()).toMatch(/Max new tokens/);
    await page.locator('[data-testid=max-new-tokens-input]').fill('8');
    await page.locator('[data-testid=limit-input]').fill('0');
    expect(await page.locator('[data-testid=limit-error]').innerText()).toMatch(/Problems must be/);
    expect(await page.locator('[data-testid=run-eval]').isDisabled()).toBe(true);
    await page.locator('[data-testid=limit-input]').fill('1');

    // The first Evaluate says what it waits for, then runs.
    await page.click('[data-testid=run-eval]');
    await page
      .locator('[data-testid=eval-wait]')
      .filter({ hasText: /Starting the inference runtime[\s\S]*model 1 of 1: demo-quick/ })
      .waitFor({ timeout: 30_000 });
    await page.locator('[data-testid=results-table]').waitFor({ timeout: 120_000 });
  }, 400_000);
});
