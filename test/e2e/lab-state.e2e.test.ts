/**
 * What the lab keeps, in one Chromium page (cross-origin isolated, as the harness serves it):
 * - a merge survives a page reload: it is listed again from OPFS with the recipe that made it, a
 *   second merge gets a folder of its own (the first is not overwritten), and a merge can be deleted;
 * - a downloaded merge (one .zip of a folder) has its files' real names and loads back into the lab;
 * - sweep points are named by their value (α = 0.5) in the results table and the chart, and the
 *   results JSON / CSV carry the recipe of every merge.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Download, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { demoReady, freshLabPerTest, setUpCompare } from './harness';

/** Folders at the root of the page's OPFS, each with its file names. */
const opfsFolders = (page: Page) =>
  page.evaluate(async () => {
    type Dir = FileSystemDirectoryHandle & { entries(): AsyncIterable<[string, FileSystemHandle]> };
    const out: Record<string, string[]> = {};
    for await (const [name, h] of ((await navigator.storage.getDirectory()) as Dir).entries()) {
      if (h.kind !== 'directory') continue;
      out[name] = [];
      for await (const [f] of (h as Dir).entries()) out[name].push(f);
    }
    return out;
  });

async function mergePreset(page: Page, preset: string): Promise<void> {
  await page.click('[data-testid=step-recipe]');
  await page.click(`[data-testid=preset-${preset}]`);
  await page.click('[data-testid=step-merge]');
  await page.click('[data-testid=run-merge]');
  await page.locator('[data-testid=merge-done]').waitFor({ timeout: 120_000 });
}

/** Clicks `selector` and saves the download it starts into `dir`; resolves with its path. */
async function download(page: Page, selector: string, dir: string): Promise<string> {
  const [d]: [Download, void] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const file = path.join(dir, d.suggestedFilename());
  await d.saveAs(file);
  return file;
}

const card = (page: Page, model: string) => page.locator(`[data-testid=model-card][data-model="${model}"]`);

describe('the lab keeps its work', () => {
  const lab = freshLabPerTest();

  it('keeps merges across a reload, exports them under real names, and labels sweeps', async () => {
    const { page } = lab();
    const tmp = mkdtempSync(path.join(tmpdir(), 'merge-lab-export-'));
    expect(await page.locator('[data-testid=wasm-threads]').innerText()).toMatch(/runs on \d+ threads/);

    // A merge, then a reload: it is listed again, with its recipe.
    await mergePreset(page, 'ta');
    await page.reload();
    await demoReady(lab());
    await page.click('[data-testid=step-models]');
    const first = card(page, 'merge-1-task_arithmetic');
    await first.locator('xpath=self::*[@data-status="ready"]').waitFor({ timeout: 30_000 });
    expect(await first.locator('[data-testid=model-recipe] pre').textContent()).toMatch(
      /merge_method: task_arithmetic[\s\S]*weight: 0\.7/,
    );
    expect(await page.locator('[data-testid=stored-merge]').count()).toBe(1);

    // The next merge is numbered past it; the first folder is untouched.
    const before = await opfsFolders(page);
    expect(before['merge-lab-merge-1-task_arithmetic']).toEqual(
      expect.arrayContaining(['config.json', 'model.safetensors', 'merge-lab-recipe.json']),
    );
    await mergePreset(page, 'ties');
    const after = await opfsFolders(page);
    expect(Object.keys(after)).toEqual(expect.arrayContaining(['merge-lab-merge-2-ties']));
    expect(after['merge-lab-merge-1-task_arithmetic']!.sort()).toEqual(
      before['merge-lab-merge-1-task_arithmetic']!.sort(),
    );

    // Export: one zip, a folder of real names, which loads back into the lab.
    await page.click('[data-testid=step-export]');
    const zip = await download(
      page,
      '[data-testid=export-merge]:has-text("merge-1-task_arithmetic") [data-testid=download-zip]',
      tmp,
    );
    expect(path.basename(zip)).toBe('merge-1-task_arithmetic.zip');
    execFileSync('python3', ['-m', 'zipfile', '-e', zip, tmp]);
    const folder = path.join(tmp, 'merge-1-task_arithmetic');
    const names = readdirSync(folder).sort();
    expect(names).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'mergekit_config.yml']));
    expect(readFileSync(path.join(folder, 'mergekit_config.yml'), 'utf8')).toMatch(/weight: 0\.7/);
    await page.click('[data-testid=step-models]');
    await page
      .locator('[data-testid=files-input]')
      .setInputFiles(names.filter((n) => !n.endsWith('.yml')).map((n) => path.join(folder, n)));
    await card(page, 'local model').locator('xpath=self::*[@data-status="ready"]').waitFor({ timeout: 30_000 });
    expect(await card(page, 'local model').locator('[data-testid=model-warning]').count()).toBe(0);

    // Delete the second merge: gone from the lab and from OPFS.
    await card(page, 'merge-2-ties').locator('[data-testid=delete-merge]').click();
    await expect.poll(() => card(page, 'merge-2-ties').count()).toBe(0);
    expect(Object.keys(await opfsFolders(page))).not.toContain('merge-lab-merge-2-ties');

    // A sweep of α: points named by value; the results files carry each merge's recipe.
    await page.click('[data-testid=step-recipe]');
    await page.click('[data-testid=preset-ta]');
    await setUpCompare(page, ['demo-quick'], { problems: 1, maxNewTokens: 8 });
    await page.locator('[data-testid=sweep-values]').fill('0.5, 0.9');
    await page.click('[data-testid=run-sweep]');
    await page.locator('[data-testid=results-table]').waitFor({ timeout: 300_000 });
    const heads = await page.locator('[data-testid=results-table] tbody th').allInnerTexts();
    expect(heads.join(' | ')).toMatch(/α = 0\.5.*\| α = 0\.9/);
    expect(await page.locator('[data-testid=chart-pareto-labels]').textContent()).toMatch(/α = 0\.5 · α = 0\.9/);
    await page.click('[data-testid=step-export]');
    const json = JSON.parse(readFileSync(await download(page, '[data-testid=results-json]', tmp), 'utf8')) as {
      runs: { models: { name: string }[] }[];
      recipes: Record<string, string>;
    };
    const merged = json.runs[0]!.models.map((m) => m.name).filter((n) => n.startsWith('merge-'));
    expect(merged).toHaveLength(2);
    expect(merged.map((n) => json.recipes[n]!.match(/weight: ([\d.]+)/)![1])).toEqual(['0.5', '0.9']);
    const csv = readFileSync(await download(page, '[data-testid=results-csv]', tmp), 'utf8');
    expect(csv.split('\n')[0]).toMatch(/,recipe$/);
    expect(csv).toMatch(/merge_method: task_arithmetic/);
  }, 600_000);
});
