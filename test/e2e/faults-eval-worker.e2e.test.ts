/**
 * The evaluation worker dying mid-run in Compare (headless Chromium, wasm): it closes itself after
 * two responses through the page's `?fault=` hook (src/workers/merge-faults.ts), which fires no event
 * at all. The page notices through the worker's life lock within seconds, says what happened and
 * what is kept, offers the finished responses at once, and Resume finishes the run on a new worker,
 * answering only the missing problems.
 */
import { describe, expect, it } from 'vitest';
import { demoReady, freshLabPerTest, setUpCompare } from './harness';

describe('the evaluation worker dying mid-run', () => {
  const lab = freshLabPerTest();

  it('says so, keeps the finished responses, and Resume finishes the run on a new worker', async () => {
    const { page, url } = lab();
    await page.goto(`${url}?fault=eval-worker-exit@2`);
    await demoReady(lab());
    await setUpCompare(page, ['demo-quick', 'demo-slow'], { problems: 2, maxNewTokens: 64 });
    await page.locator('[data-testid=batch-input]').fill('1');
    await page.click('[data-testid=run-eval]');
    const alert = page.locator('[role=alert]').filter({ hasText: 'The evaluation stopped' });
    await alert.waitFor({ timeout: 120_000 });
    const kept = await page.locator('[data-testid=finished-response]').count();
    expect(kept).toBeGreaterThanOrEqual(1);
    expect(kept).toBeLessThan(4);
    expect(await alert.innerText()).toMatch(
      new RegExp(
        `^The evaluation stopped: Its ${kept} finished responses? (is|are) kept: Resume runs only the missing problems, on a new worker\\. \\(WorkerStoppedError: the evaluation worker stopped: it ended without a word`,
      ),
    );
    expect(await page.locator('[data-testid=interrupted-summary]').innerText()).toContain(
      `after ${kept} of 4 responses had finished`,
    );
    await page.click('[data-testid=resume-eval]');
    await page.locator('[data-testid=results-table]').waitFor({ timeout: 120_000 });
    expect(await page.locator('[data-testid=resumed-note]').innerText()).toBe(
      `Resumed after an interruption: ${kept} responses kept from before, ${4 - kept} answered now.`,
    );
    expect(await page.locator('[data-testid=results-table] tbody tr').count()).toBe(2);
  }, 240_000);
});
