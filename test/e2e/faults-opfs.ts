/**
 * Helpers of the fault tests (faults-*.e2e.test.ts): what OPFS holds after a fault, and running a
 * merge of the demo models from the page.
 */
import type { Page } from 'playwright-core';

/** The merge folders in OPFS that look like a finished model (a config.json), and the others. */
export async function opfsMergeFolders(page: Page): Promise<{ complete: string[]; unfinished: string[] }> {
  return page.evaluate(async () => {
    const out = { complete: [] as string[], unfinished: [] as string[] };
    const root = (await navigator.storage.getDirectory()) as FileSystemDirectoryHandle & {
      entries(): AsyncIterable<[string, FileSystemHandle]>;
    };
    for await (const [name, handle] of root.entries()) {
      if (!name.startsWith('merge-lab-merge-') || handle.kind !== 'directory') continue;
      const hasConfig = await (handle as FileSystemDirectoryHandle).getFileHandle('config.json').then(
        () => true,
        () => false,
      );
      (hasConfig ? out.complete : out.unfinished).push(name);
    }
    out.complete.sort();
    out.unfinished.sort();
    return out;
  });
}

/** The merges the Models step lists as kept in this browser. */
export async function listedMerges(page: Page): Promise<string[]> {
  await page.click('[data-testid=step-models]');
  const items = page.locator('[data-testid=stored-merge]');
  return (await items.evaluateAll((els) => els.map((e) => e.getAttribute('data-model') ?? ''))).sort();
}

/** Picks the TA preset and starts a merge on `backend` ('auto' or 'cpu'). */
export async function startMerge(page: Page, backend: 'auto' | 'cpu' = 'auto'): Promise<void> {
  await page.click('[data-testid=step-recipe]');
  await page.click('[data-testid=preset-ta]');
  await page.click('[data-testid=step-merge]');
  await page.selectOption('[data-testid=merge-backend]', backend);
  await page.click('[data-testid=run-merge]');
}

/** Runs a merge to its end; the name it is listed under. */
export async function mergeToEnd(page: Page, backend: 'auto' | 'cpu' = 'auto'): Promise<string> {
  await startMerge(page, backend);
  const done = page.locator('[data-testid=merge-done]');
  await done.waitFor({ timeout: 120_000 });
  return done.locator('code').innerText();
}

/** Reopens the lab with `?fault=…` (the next merge suffers it) and waits for the kept merges to be listed again. */
export async function reopenWithFault(page: Page, url: string, fault: string, kept: number): Promise<void> {
  await page.goto(`${url}?fault=${fault}`);
  await page
    .locator('[data-testid=model-card][data-status=ready]')
    .nth(2 + kept)
    .waitFor({ timeout: 60_000 });
}
