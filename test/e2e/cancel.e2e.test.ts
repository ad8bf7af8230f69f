/**
 * Cancel in the Compare step (Chromium, wasm EP, batch 1), in one page: pressed while the models
 * load, the run stops before any response; pressed at "1/12 responses", it stops within a token
 * step: no results table, no response in flight, only the responses that had finished are shown,
 * and their number stays put. The worker is really free afterwards: the next evaluation runs (the
 * worker refuses a second evaluation while one is still going).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { freshLabPerTest, setUpCompare } from './harness';

const cancelled = (page: Page) => page.locator('[role=alert]').filter({ hasText: /cancelled/i });
const finished = (page: Page) => page.locator('[data-testid=finished-response]');

/** Clicks Cancel; resolves with the milliseconds until the page says the run was cancelled. */
async function cancelNow(page: Page): Promise<number> {
  const t0 = Date.now();
  await page.click('[data-testid=cancel-eval]');
  await cancelled(page).waitFor({ timeout: 30_000 });
  return Date.now() - t0;
}

describe('Cancel in Compare', () => {
  const lab = freshLabPerTest();

  it('stops while models load and at 1/12 responses, keeping only finished responses', async () => {
    const { page } = lab();
    await setUpCompare(page, ['demo-slow', 'demo-quick'], { problems: 6, maxNewTokens: 300 });
    // demo-slow first (models run in the order they were ticked): its answers take seconds each.
    const quick = page.locator('fieldset', { hasText: 'Models' }).locator('label', { hasText: 'demo-quick' });
    await quick.locator('input').uncheck();
    await quick.locator('input').check();
    await page.locator('[data-testid=batch-input]').fill('1');

    // 1. While the models load (the first Evaluate also starts the runtime).
    await page.click('[data-testid=run-eval]');
    await page
      .locator('[data-testid=eval-wait]')
      .filter({ hasText: /Loading|loading/ })
      .waitFor({ timeout: 30_000 });
    expect(await cancelNow(page)).toBeLessThan(15_000);
    await page.waitForTimeout(2_000);
    expect(await page.locator('[data-testid=results-table]').count()).toBe(0);
    expect(await finished(page).count()).toBe(0);
    expect(await page.locator('[data-testid=run-eval]').isEnabled()).toBe(true);

    // 2. At "1/12 responses", batch 1: stops within a token step, shows only what finished.
    await page.click('[data-testid=run-eval]');
    await page
      .locator('[data-testid=eval-wait]')
      .filter({ hasText: /^\s*1\/12 responses/ })
      .waitFor({ timeout: 300_000 });
    expect(await cancelNow(page)).toBeLessThan(5_000);
    const kept = await finished(page).count();
    expect(kept).toBeGreaterThanOrEqual(1);
    expect(kept).toBeLessThan(12);
    await page.waitForTimeout(3_000); // a run that went on would add responses or show results by now
    expect(await finished(page).count()).toBe(kept);
    expect(await page.locator('[data-testid=results-table]').count()).toBe(0);
    expect(await page.locator('[data-testid=live-response][data-done=false]').count()).toBe(0);

    // 3. The worker stopped: the next evaluation runs to its results.
    await page.locator('input[type=number]').nth(0).fill('1');
    await page.locator('input[type=number]').nth(1).fill('8');
    await page.click('[data-testid=run-eval]');
    await page.locator('[data-testid=results-table]').waitFor({ timeout: 120_000 });
  }, 600_000);
});
