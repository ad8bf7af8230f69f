/**
 * The page reloaded in the middle of a merge (headless Chromium, WebGPU on SwiftShader): after the
 * reload the half merge is not listed, its folder is removed on start (and the page says so), the
 * merge made before is still listed, and the next merge runs. (test/e2e/opfs-room.e2e.test.ts
 * covers a leftover folder planted by hand; this is a real merge cut off by a reload.)
 */
import { describe, expect, it } from 'vitest';
import { demoReady, freshLabPerTest } from './harness';
import { listedMerges, mergeToEnd, opfsMergeFolders, startMerge } from './faults-opfs';

describe('the page reloaded in the middle of a merge', () => {
  const lab = freshLabPerTest();

  it('mid-merge: the half merge is removed on start and never listed; the earlier merge stays; merging works', async () => {
    const { page } = lab();
    const first = await mergeToEnd(page);
    await startMerge(page);
    await page
      .locator('[data-testid=merge-progress-text]')
      .filter({ hasText: /^\s*[1-9]\d*\/\d+ tensors/ })
      .waitFor({ timeout: 60_000 });
    await page.reload();
    await demoReady(lab());
    const notice = page.locator('[data-testid=cleanup-notice]');
    await notice.waitFor({ timeout: 60_000 });
    expect(await notice.innerText()).toMatch(/^Removed what an unfinished merge left behind \(merge-lab-merge-2-/);
    expect(await opfsMergeFolders(page)).toEqual({ complete: [`merge-lab-${first}`], unfinished: [] });
    expect(await listedMerges(page)).toEqual([first]);
    expect(await page.locator('[data-testid=stored-incomplete]').count()).toBe(0);
    const next = await mergeToEnd(page);
    expect(await listedMerges(page)).toEqual([first, next].sort());
  });
});
