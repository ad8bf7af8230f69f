/**
 * The page reloaded in the middle of an evaluation in Compare (headless Chromium, wasm): the
 * responses that had finished (journaled in OPFS as each finished) are shown again with an offer to
 * resume; Resume runs only the missing problems and ends with the results of the same evaluation run
 * without interruption (greedy answers are deterministic); once finished, nothing is offered again.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { demoReady, freshLabPerTest, setUpCompare } from './harness';

/** What a finished evaluation shows: the results table, and each problem's outcome per model (✓/✗ and tokens). */
function resultsShown(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid=results-table] tbody tr, table.problems tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent?.trim()).join(' | ')),
    );
}

/** The finished responses on show, as `model problem: text`. */
function finishedResponses(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid=finished-response]')
    .evaluateAll((els) =>
      els.map(
        (e) =>
          `${e.closest('[data-model]')?.getAttribute('data-model')} ${e.getAttribute('data-problem')}: ${e.querySelector('pre')?.textContent}`,
      ),
    );
}

describe('the page reloaded in the middle of an evaluation', () => {
  const lab = freshLabPerTest();

  it('mid-evaluation: the finished responses come back, and Resume ends with the uninterrupted run', async () => {
    const { page } = lab();
    await setUpCompare(page, ['demo-quick', 'demo-slow'], { problems: 3, maxNewTokens: 200 });
    await page.locator('[data-testid=batch-input]').fill('1');
    await page.click('[data-testid=run-eval]');
    const saved = page.locator('[data-testid=eval-saved]');
    await saved.filter({ hasText: /^\s*[34] finished responses saved/ }).waitFor({ timeout: 120_000 });
    const savedBeforeReload = Number(/\d+/.exec(await saved.innerText())![0]);
    await page.reload();
    await demoReady(lab());
    await page.click('[data-testid=step-compare]');
    await page.locator('[data-testid=interrupted-eval]').waitFor({ timeout: 30_000 });
    const kept = await finishedResponses(page);
    expect(kept.length).toBeGreaterThanOrEqual(savedBeforeReload);
    expect(kept.length).toBeLessThan(6);
    expect(await page.locator('[data-testid=interrupted-summary]').innerText()).toContain(
      `after ${kept.length} of 6 responses had finished`,
    );

    // Resume: only the missing problems are answered (the models stream text for those alone), then the results.
    await page.click('[data-testid=resume-eval]');
    await page.locator('[data-testid=results-table]').waitFor({ timeout: 120_000 });
    expect(await page.locator('[data-testid=interrupted-eval]').count()).toBe(0);
    expect(await page.locator('[data-testid=resumed-note]').innerText()).toBe(
      `Resumed after an interruption: ${kept.length} responses kept from before, ${6 - kept.length} answered now.`,
    );
    const resumed = await resultsShown(page);
    expect(resumed.length).toBe(2 + 3); // two models, three problems

    // The same evaluation, uninterrupted, in the same page: the same table and the same answers.
    await page.click('[data-testid=run-eval]');
    await page.locator('[data-testid=eval-wait]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid=results-table]').waitFor({ timeout: 120_000 });
    expect(await resultsShown(page)).toEqual(resumed);
    // Nothing is offered after a reload once the evaluation finished.
    await page.reload();
    await demoReady(lab());
    await page.click('[data-testid=step-compare]');
    await page.locator('[data-testid=run-eval]').waitFor();
    await page.waitForTimeout(1_000);
    expect(await page.locator('[data-testid=interrupted-eval]').count()).toBe(0);
  }, 240_000);
});
