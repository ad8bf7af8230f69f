/**
 * Batched evaluation in the page (Chromium, wasm EP): the Compare step's Batch control reaches the
 * worker. Batch starts at "auto (B = 32)", the memory plan's batch for the demo models (the cap of
 * `merge-lab eval --batch auto`); a typed batch the plan cannot fit is refused naming the batch that
 * fits. demo-slow and demo-quick on 8 problems answer identically at batch 1, batch 4 and auto;
 * batched runs stream several responses into a model's column at once and report their aggregate
 * tokens/s, a Batch that is not a whole number ≥ 1 is refused, and Cancel during a batched run stops it with
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

/** Runs the evaluation at a batch size (auto: the plan's); resolves with every response's full text once shown. */
async function evaluateAt(page: Page, batch: number | 'auto', whileRunning?: () => Promise<void>): Promise<string[]> {
  if (batch === 'auto') await page.locator('[data-testid=batch-auto] input').check();
  else await page.locator('[data-testid=batch-input]').fill(String(batch));
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

  it('auto and batch 4 answer 8 problems exactly as batch 1, streaming several at once', async () => {
    const { page } = lab();
    await setUp(page, 192);
    // Batch starts at auto: the memory plan's largest fitting batch up to 32 (the demo models fit 32);
    // the page starts its evaluation worker at once, so the plan is in by here.
    const auto = page.locator('[data-testid=batch-auto]');
    const autoLabel = page.locator('[data-testid=batch-auto-label]');
    await expect.poll(() => autoLabel.innerText(), { timeout: 60_000 }).toBe('auto (B = 32)');
    expect(await auto.locator('input').isChecked()).toBe(true);
    expect(await page.locator('[data-testid=batch-input]').inputValue()).toBe('32');
    for (const bad of ['0', '2.5']) {
      await page.locator('[data-testid=batch-input]').fill(bad);
      await page.locator('[data-testid=batch-error]').waitFor();
      expect(await auto.locator('input').isChecked()).toBe(false); // a typed batch overrides auto
      expect(await page.locator('[data-testid=run-eval]').isDisabled()).toBe(true);
    }
    // A typed batch whose KV cache cannot fit is refused by the plan, naming the batch that fits.
    await page.locator('[data-testid=batch-input]').fill('100000');
    const refusal = page.locator('[data-testid=batch-refusal]');
    await refusal.waitFor({ timeout: 60_000 });
    expect(await refusal.innerText()).toBe(
      'Batch 100000 does not fit the memory plan: a batch of 32 fits (auto takes 32)',
    );
    expect(await page.locator('[data-testid=eval-why]').innerText()).toBe(await refusal.innerText());
    expect(await page.locator('[data-testid=run-eval]').isDisabled()).toBe(true);
    const one = await evaluateAt(page, 1);
    expect(one).toHaveLength(8);
    expect(await refusal.count()).toBe(0);
    expect(await page.locator('[data-testid=run-batch]').innerText()).toMatch(/Batch 1 \(one problem at a time\)/);
    const four = await evaluateAt(page, 4, () => twoStreamingAtOnce(page));
    expect(four).toEqual(one);
    expect(await page.locator('[data-testid=run-batch]').innerText()).toMatch(
      /Batch 4 · aggregate demo-(slow|quick) \d+ tokens\/s · demo-(slow|quick) \d+ tokens\/s/,
    );
    const all = await evaluateAt(page, 'auto', () => twoStreamingAtOnce(page));
    expect(await page.locator('[data-testid=batch-input]').inputValue()).toBe('32');
    expect(all).toEqual(one);
    expect(await page.locator('[data-testid=run-batch]').innerText()).toMatch(/^Batch 32 · aggregate /);
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
