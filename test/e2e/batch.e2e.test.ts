/**
 * Batched evaluation in the page (Chromium, wasm EP): the Compare step's Batch control reaches the
 * worker. demo-slow and demo-quick on 8 problems answer identically at batch 1 and batch 4, batch 4
 * streams several responses into a model's column at once and reports its aggregate tokens/s, a
 * Batch that is not a whole number ≥ 1 is refused, and Cancel during a batched run stops it with
 * no results shown (the worker sees the cancel through shared memory: its message would wait behind
 * the generation loop's scheduler.yield in Chromium).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { freshLabPerTest } from './harness';

/** Compare step, wasm EP, demo-slow and demo-quick, 8 problems, at most `maxNewTokens` new tokens. */
async function setUp(page: Page, maxNewTokens: number): Promise<void> {
  await page.click('[data-testid=step-compare]');
  await page.locator('[data-testid=run-eval]').waitFor();
  await page.selectOption('[data-testid=ep-select]', 'wasm');
  const models = page.locator('fieldset', { hasText: 'Models' });
  await models.locator('label', { hasText: 'demo-slow' }).locator('input').waitFor();
  for (const label of await models.locator('label').all()) {
    const text = await label.innerText();
    const box = label.locator('input[type=checkbox]');
    if (text.includes('demo-slow') || text.includes('demo-quick')) await box.check();
    else await box.uncheck();
  }
  await page.locator('input[type=number]').nth(0).fill('8');
  await page.locator('input[type=number]').nth(1).fill(String(maxNewTokens));
}

/** In-flight responses (not yet finished) in one model's live column. */
const inFlight = (page: Page, model: string) =>
  page.locator(`[data-testid=live-column][data-model=${model}] [data-testid=live-response][data-done=false]`);

/** Waits until some model's column streams at least two responses at once. */
async function twoStreamingAtOnce(page: Page): Promise<void> {
  await page.waitForFunction(
    (n) =>
      [...document.querySelectorAll('[data-testid=live-column]')].some(
        (c) => c.querySelectorAll('[data-testid=live-response][data-done=false]').length >= n,
      ),
    2,
    { timeout: 300_000, polling: 20 },
  );
}

/** Runs the evaluation at a batch size; resolves with every response's full text once shown. */
async function evaluateAt(page: Page, batch: number, whileRunning?: () => Promise<void>): Promise<string[]> {
  await page.locator('[data-testid=batch-input]').fill(String(batch));
  await page.click('[data-testid=run-eval]');
  await whileRunning?.();
  await page.locator('[data-testid=results-table]').waitFor({ timeout: 600_000 });
  const texts: string[] = [];
  for (const row of await page.locator('[data-testid=problem-row]').all()) {
    await row.click();
    texts.push(await page.locator('[data-testid=problem-detail]').innerText());
  }
  return texts;
}

describe('batched evaluation in the page', () => {
  const lab = freshLabPerTest();

  it('batch 4 answers 8 problems exactly as batch 1, streaming several at once', async () => {
    const { page } = lab();
    await setUp(page, 192);
    // Until the user sets it, Batch is the memory plan's largest fitting batch up to 8 (the demo
    // models fit 8); the page now starts its evaluation worker at once, so the plan is in by here.
    await expect.poll(() => page.locator('[data-testid=batch-input]').inputValue(), { timeout: 60_000 }).toBe('8');
    for (const bad of ['0', '2.5']) {
      await page.locator('[data-testid=batch-input]').fill(bad);
      await page.locator('[data-testid=batch-error]').waitFor();
      expect(await page.locator('[data-testid=run-eval]').isDisabled()).toBe(true);
    }
    const one = await evaluateAt(page, 1);
    expect(one).toHaveLength(8);
    expect(await page.locator('[data-testid=run-batch]').innerText()).toMatch(/Batch 1 \(one problem at a time\)/);
    const four = await evaluateAt(page, 4, () => twoStreamingAtOnce(page));
    expect(four).toEqual(one);
    expect(await page.locator('[data-testid=run-batch]').innerText()).toMatch(
      /Batch 4 · aggregate demo-(slow|quick) \d+ tokens\/s · demo-(slow|quick) \d+ tokens\/s/,
    );
  }, 900_000);

  it('Cancel during a batched run stops the whole batch, with no results shown', async () => {
    const { page } = lab();
    await setUp(page, 400);
    await page.locator('[data-testid=batch-input]').fill('4');
    await page.click('[data-testid=run-eval]');
    await twoStreamingAtOnce(page);
    const cancelledAt = Date.now();
    await page.click('[data-testid=cancel-eval]');
    const alert = page.locator('[role=alert]').filter({ hasText: /cancelled/i });
    await alert.waitFor({ timeout: 30_000 });
    expect(Date.now() - cancelledAt).toBeLessThan(30_000);
    await page.waitForTimeout(5_000); // longer than the rest of the run: it really stopped
    expect(await page.locator('[data-testid=results-table]').count()).toBe(0);
    expect(await alert.isVisible()).toBe(true);
    expect(await inFlight(page, 'demo-slow').count()).toBe(0); // the live panel is gone
    expect(await page.locator('[data-testid=run-eval]').isEnabled()).toBe(true);
  }, 600_000);
});
