/**
 * The sharded writer's positional mode on OPFS in headless Chromium (Debian's /usr/bin/chromium
 * through playwright-core, served by Vite's dev server), as the page's parallel merges use it:
 * chunks written back to front, all at once, give the sequential writer's files byte for byte,
 * and abort() leaves no file. Fails when Chromium is not installed.
 */
import { describe, expect, it } from 'vitest';
import { useDevPage } from '../helpers/dev-page';

interface Found {
  same: Record<string, boolean>;
  opfsFiles: string[];
  beforeAbort: number;
  afterAbort: string[];
}

describe('positional writer on OPFS (Chromium)', () => {
  const dev = useDevPage('test/core/opfs-writer/index.html', 'node_modules/.vite-opfs-writer-test');

  it('chunks out of order = the sequential writer, byte for byte; abort() leaves nothing', async () => {
    const page = await dev.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${dev.base}/test/core/opfs-writer/index.html`);
    await page.waitForFunction(() => '__opfsWriter' in window);
    const found = await page.evaluate(() => (window as unknown as { __opfsWriter(): Promise<Found> }).__opfsWriter());
    expect(errors).toEqual([]);
    expect(found.same).toEqual({
      'model-00001-of-00003.safetensors': true,
      'model-00002-of-00003.safetensors': true,
      'model-00003-of-00003.safetensors': true,
      'model.safetensors.index.json': true,
    });
    expect(found.opfsFiles).toEqual(Object.keys(found.same).sort());
    expect(found.beforeAbort).toBeGreaterThan(0);
    expect(found.afterAbort).toEqual([]);
    await page.close();
  }, 120_000);
});
