/**
 * Weight formats in the page (Chromium, wasm EP): demo-quick evaluated in q4 packs its weights and
 * writes them to OPFS (`merge-lab-weights/<content key>.q4-32/`, the key Node computes for the same
 * folder; what an interrupted write left there is not taken for an entry); after a page reload the same evaluation reuses them from OPFS (the page says so) and
 * answers identically. The Weights selector's block size reaches the worker: 128 fails on
 * demo-quick's K = 192 with the InferError naming the tensor, 64 runs and is cached under its own entry.
 */
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { checkpointKey } from '../../src/node/weights-cache';
import { demoReady, freshLabPerTest } from './harness';

/** Compare step, wasm EP, demo-quick alone in q4, 2 problems of at most 16 new tokens. */
async function setUpQuickQ4(page: Page): Promise<void> {
  await page.click('[data-testid=step-compare]');
  await page.locator('[data-testid=run-eval]').waitFor();
  await page.selectOption('[data-testid=ep-select]', 'wasm');
  const models = page.locator('fieldset', { hasText: 'Models' });
  await models.locator('label', { hasText: 'demo-quick' }).locator('input').waitFor();
  for (const label of await models.locator('label').all()) {
    const box = label.locator('input[type=checkbox]');
    if ((await label.innerText()).includes('demo-quick')) await box.check();
    else await box.uncheck();
  }
  await page.locator('[data-testid=weights-q4] input[type=radio]').check();
  await page.locator('input[type=number]').nth(0).fill('2');
  await page.locator('input[type=number]').nth(1).fill('16');
}

/** Runs the evaluation; resolves with every response's full text once the results are shown. */
async function evaluate(page: Page): Promise<string[]> {
  await page.click('[data-testid=run-eval]');
  await page.locator('[data-testid=results-table]').waitFor({ timeout: 300_000 });
  const texts: string[] = [];
  for (const row of await page.locator('[data-testid=problem-row]').all()) {
    await row.click();
    texts.push(await page.locator('[data-testid=problem-detail]').innerText());
  }
  return texts;
}

/** The entries of the page's OPFS weights cache. */
const opfsEntries = (page: Page) =>
  page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle('merge-lab-weights').catch(() => undefined);
    const names: string[] = [];
    if (dir)
      for await (const [name] of (
        dir as FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, unknown]> }
      ).entries())
        names.push(name);
    return names.sort();
  });

const source = (page: Page) =>
  page.locator('[data-testid=weights-sources] li[data-model=demo-quick]').getAttribute('data-source');

describe('weights in the page', () => {
  const lab = freshLabPerTest();

  it('q4 weights are packed into OPFS once, then reused after a reload with identical answers', async () => {
    const { page } = lab();
    const key = await checkpointKey('public/models/demo-quick');
    // What an interrupted write leaves (data, the manifest still under its .partial name) is not an entry.
    await page.evaluate(async (entry) => {
      const root = await navigator.storage.getDirectory();
      const cache = await root.getDirectoryHandle('merge-lab-weights', { create: true });
      const dir = await cache.getDirectoryHandle(entry, { create: true });
      for (const name of ['merge-lab.weights.0.bin', 'merge-lab.weights.json.partial']) {
        const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
        await w.write('interrupted');
        await w.close();
      }
    }, `${key}.q4-32`);
    await setUpQuickQ4(page);
    const first = await evaluate(page);
    expect(first).toHaveLength(2);
    expect(await source(page)).toBe('packed');
    expect(await page.locator('[data-testid=weights-sources]').innerText()).toMatch(/cached for the next load/);
    expect(await opfsEntries(page)).toEqual([`${key}.q4-32`]);

    await page.reload();
    await demoReady(lab());
    await setUpQuickQ4(page);
    const second = await evaluate(page);
    expect(await source(page)).toBe('cache');
    expect(await page.locator('[data-testid=weights-sources]').innerText()).toMatch(
      /demo-quick: q4 \(blocks of 32\), reused from the weights cache/,
    );
    expect(second).toEqual(first);
    expect(await opfsEntries(page)).toEqual([`${key}.q4-32`]);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/lab-weights.png', fullPage: true });
  }, 600_000);

  it('the block size reaches the worker: 128 names the tensor it cannot split, 64 runs', async () => {
    const { page } = lab();
    await setUpQuickQ4(page);
    await page.selectOption('[data-testid=block-size]', '128');
    await page.click('[data-testid=run-eval]');
    const alert = page.locator('[role=alert]').filter({ hasText: 'InferError' });
    await alert.waitFor({ timeout: 120_000 });
    expect(await alert.innerText()).toMatch(
      /tensor 'model\.(embed_tokens|layers\.0\.self_attn\.q_proj)\.weight' \[\d+, 192\] cannot be stored as q4 with block size 128/,
    );
    await page.selectOption('[data-testid=block-size]', '64');
    const texts = await evaluate(page);
    expect(texts).toHaveLength(2);
    expect(await page.locator('[data-testid=run-formats]').innerText()).toMatch(/demo-quick q4 \(blocks of 64\)/);
    const entries = await opfsEntries(page);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/^[0-9a-f]{64}\.q4-64$/);
  }, 600_000);
});
