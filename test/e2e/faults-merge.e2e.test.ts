/**
 * Faults in the middle of a merge in the page (headless Chromium, WebGPU on SwiftShader), each a
 * real failure injected through the page's `?fault=` hook (src/workers/merge-faults.ts): the merge
 * worker destroys its GPUDevice, the merge worker closes itself or throws an uncaught error. Each
 * time: the page says what happened and what to do, within seconds (no call is left waiting on a
 * dead worker), OPFS holds nothing of the failed merge that looks like a model, the merge made
 * before is still listed, and the next merge runs. A tensor worker of a CPU merge that closes itself
 * (which fires no event at all) is noticed through its life lock, and its tensor is merged again on
 * a new worker: the merge ends with a warning and the same bytes as a merge without the fault.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { freshLabPerTest } from './harness';
import { listedMerges, mergeToEnd, opfsMergeFolders, reopenWithFault, startMerge } from './faults-opfs';

/** Starts a merge that suffers the fault; the error the page shows, and how long it took to show. */
async function failingMerge(page: Page, backend: 'auto' | 'cpu' = 'auto'): Promise<{ text: string; ms: number }> {
  const t0 = Date.now();
  await startMerge(page, backend);
  const error = page.locator('[data-testid=merge-error]');
  await error.waitFor({ timeout: 60_000 });
  return { text: await error.innerText(), ms: Date.now() - t0 };
}

/** After a failed merge: only `kept` look like models in OPFS, and the Models step lists exactly those. */
async function expectOnlyKept(page: Page, kept: string[]): Promise<void> {
  expect(await page.locator('[data-testid=merge-done]').count()).toBe(0);
  expect((await opfsMergeFolders(page)).complete).toEqual(kept.map((n) => `merge-lab-${n}`));
  expect(await listedMerges(page)).toEqual(kept);
}

describe('faults in the middle of a merge in the page', () => {
  const lab = freshLabPerTest();

  it('a GPU device lost mid-merge: says so, keeps nothing of it, and the next merge gets a new device', async () => {
    const { page, url } = lab();
    const first = await mergeToEnd(page);
    await reopenWithFault(page, url, 'gpu-lost@5', 1);
    const { text, ms } = await failingMerge(page);
    expect(text).toMatch(
      /^The GPU was lost in the middle of this merge\. Nothing of this merge was kept; the merges made before it are kept\. Merge again to retry on a new GPU device, or set Run on to CPU\. \(GpuDeviceLostError: WebGPU device lost/,
    );
    expect(ms).toBeLessThan(30_000);
    await expectOnlyKept(page, [first]);
    const second = await mergeToEnd(page);
    expect(await page.locator('[data-testid=backend-notice]').innerText()).toMatch(/^on webgpu/);
    expect(await listedMerges(page)).toEqual([first, second].sort());
  });

  it('the merge worker closing itself, or throwing, mid-merge: says so within seconds, and the next merge runs', async () => {
    const { page, url } = lab();
    const kept = [await mergeToEnd(page)];
    for (const fault of ['merge-worker-exit@5', 'merge-worker-error@5']) {
      await reopenWithFault(page, url, fault, kept.length);
      const { text, ms } = await failingMerge(page);
      expect(text).toMatch(
        /^A worker stopped in the middle of this merge\. Nothing of this merge was kept; the merges made before it are kept\. Merge again: the lab starts new workers\. \(WorkerStoppedError: the merge worker stopped: /,
      );
      expect(ms).toBeLessThan(30_000);
      await expectOnlyKept(page, kept);
      kept.push(await mergeToEnd(page));
    }
  });

  it('a tensor worker of a CPU merge closing itself: its tensor is merged again on a new worker, same bytes', async () => {
    const { page, url } = lab();
    const clean = await mergeToEnd(page, 'cpu');
    await reopenWithFault(page, url, 'tensor-worker-exit@2', 1);
    const t0 = Date.now();
    const retried = await mergeToEnd(page, 'cpu');
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(await page.locator('.warn', { hasText: 'it ended without a word' }).count()).toBe(1);
    const bytes = (model: string) =>
      page.evaluate(
        (m) =>
          (
            globalThis as unknown as { mergeLab: { fileBase64(m: string, f: string): Promise<string> } }
          ).mergeLab.fileBase64(m, 'model.safetensors'),
        model,
      );
    expect(await bytes(retried)).toBe(await bytes(clean));
    expect(await listedMerges(page)).toEqual([clean, retried].sort());
  });
});
