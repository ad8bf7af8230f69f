/**
 * OPFS realities in Chromium: a quota that runs out in the middle of a merge (set through Chromium's
 * DevTools protocol, Storage.overrideQuotaForOrigin, which the browser enforces on writes but does
 * not show in navigator.storage.estimate) ends the merge with a StorageFullError naming the file,
 * leaves nothing that looks like a finished model, keeps the merge made before it, and the lab
 * merges again once there is room; a folder left by a merge that never finished (a closed tab) is
 * removed on the next start, and said so. The refusal before a merge that cannot fit (from the estimate) is test/core/opfs-room.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { freshLabPerTest } from './harness';

describe('merges and the browser storage quota', () => {
  const lab = freshLabPerTest();

  it('a quota that runs out mid-merge: a clear error, no finished-looking output, the earlier merge kept, and the next merge runs', async () => {
    const { page, url } = lab();
    // A merge made before the quota runs out, which must stay listed and whole.
    await page.click('[data-testid=step-recipe]');
    await page.click('[data-testid=preset-ta]');
    await page.click('[data-testid=step-merge]');
    await page.click('[data-testid=run-merge]');
    await page.locator('[data-testid=merge-done]').waitFor({ timeout: 120_000 });
    const cdp = await page.context().newCDPSession(page);
    const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(url).origin, quotaSize: usage + (4 << 20) });
    await page.click('[data-testid=step-recipe]');
    await page.click('[data-testid=preset-ta]');
    await page.click('[data-testid=step-merge]');
    await page.click('[data-testid=run-merge]');
    const error = page.locator('[data-testid=merge-error]');
    await error.waitFor({ timeout: 60_000 });
    expect(await error.innerText()).toMatch(
      /^StorageFullError: model\.safetensors(\.partial)?: the browser's storage quota ran out while writing/,
    );
    // Whatever the merge left holds no config.json: not a model, and not listed as a merge.
    const finished = await page.evaluate(async () => {
      const out: string[] = [];
      const root = (await navigator.storage.getDirectory()) as FileSystemDirectoryHandle & {
        entries(): AsyncIterable<[string, FileSystemHandle]>;
      };
      for await (const [name, handle] of root.entries())
        if (
          name.startsWith('merge-lab-') &&
          (await (handle as FileSystemDirectoryHandle).getFileHandle('config.json').then(
            () => true,
            () => false,
          ))
        )
          out.push(name);
      return out;
    });
    expect(finished).toEqual(['merge-lab-merge-1-task_arithmetic']);
    expect(await page.locator('[data-testid=merge-done]').count()).toBe(0);
    await page.click('[data-testid=step-models]');
    expect(
      await page
        .locator('[data-testid=stored-merge]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-model'))),
    ).toEqual(['merge-1-task_arithmetic']);
    await page.click('[data-testid=step-merge]');
    // With the quota back, the same merge runs.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(url).origin });
    await page.click('[data-testid=run-merge]');
    await page.locator('[data-testid=merge-done]').waitFor({ timeout: 120_000 });
  });

  it('removes what an unfinished merge left in OPFS on the next start, and says so', async () => {
    const { page } = lab();
    // What a tab closed mid-merge leaves: a merge folder with a half-written shard and no config.json.
    await page.evaluate(async () => {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle('merge-lab-merge-7-ties', { create: true });
      const w = await (await dir.getFileHandle('model.safetensors.partial', { create: true })).createWritable();
      await w.write(new Uint8Array(1 << 16));
      await w.close();
    });
    await page.reload();
    const notice = page.locator('[data-testid=cleanup-notice]');
    await notice.waitFor({ timeout: 60_000 });
    expect(await notice.innerText()).toContain('merge-lab-merge-7-ties');
    const left = await page.evaluate(async () =>
      (await navigator.storage.getDirectory()).getDirectoryHandle('merge-lab-merge-7-ties').then(
        () => true,
        () => false,
      ),
    );
    expect(left).toBe(false);
    expect(await page.locator('[data-testid=stored-incomplete]').count()).toBe(0);
  });
});
