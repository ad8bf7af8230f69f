/**
 * The dev server as `scripts/start.sh` starts it after `npm ci`: dependencies optimised from
 * scratch (`--force`, into a cache folder of its own). The first Evaluate starts the evaluation
 * worker, whose imports (onnxruntime-web, the tokenizers) must already be optimised: a dependency
 * found only then makes Vite re-optimise and reload the page, losing every merge and setting.
 * A marker set on the page before the first Evaluate must survive it, with one 'load' event.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type Logger, type ViteDevServer, createLogger, createServer } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import { demoReady, foreignRequests, openPage, setUpCompare } from './harness';

/** A Vite logger that keeps what it says (shown when the test fails), and prints it with E2E_VITE_LOG=1. */
function keptLogger(lines: string[]): Logger {
  const base = createLogger(process.env.E2E_VITE_LOG === '1' ? 'info' : 'error');
  const keep =
    (say: (m: string, o?: object) => void) =>
    (m: string, o?: object): void => {
      lines.push(m);
      say(m, o);
    };
  return {
    ...base,
    info: keep(base.info),
    warn: keep(base.warn),
    warnOnce: keep(base.warnOnce),
    error: keep(base.error),
  };
}

describe('the dev server', () => {
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'merge-lab-vite-cache-'));
  let server: ViteDevServer | undefined;
  const viteLog: string[] = [];
  afterAll(async () => {
    await server?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('does not reload the page at the first Evaluate on a fresh dependency cache', async () => {
    server = await createServer({
      customLogger: keptLogger(viteLog),
      cacheDir,
      optimizeDeps: { force: true },
      // No file watching: an edit elsewhere in the tree must not reload the page under test.
      server: { port: 0, host: '127.0.0.1', strictPort: false, watch: null },
    });
    await server.listen();
    const address = server.httpServer!.address();
    const port = typeof address === 'object' && address ? address.port : 5173;
    const lab = await openPage(`http://127.0.0.1:${port}/`);
    try {
      let loads = 0;
      lab.page.on('load', () => loads++);
      await lab.page.reload(); // counted from here: exactly one load
      await demoReady({ ...lab, close: lab.close });
      await lab.page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = 'kept'));
      await setUpCompare(lab.page, ['demo-quick'], { problems: 1, maxNewTokens: 8 });
      await lab.page.click('[data-testid=run-eval]');
      // A reload ends the wait early (the results would never come).
      await Promise.race([
        lab.page.locator('[data-testid=results-table]').waitFor({ timeout: 300_000 }),
        lab.page.waitForEvent('load', { timeout: 300_000 }),
      ]);
      await lab.page.waitForTimeout(3_000); // a re-optimisation reloads about a second after the discovery
      const marker = await lab.page.evaluate(() => (globalThis as unknown as { marker?: string }).marker);
      expect(marker, `the page reloaded; Vite said:\n${viteLog.join('\n')}`).toBe('kept');
      expect(loads).toBe(1);
      expect(foreignRequests({ ...lab, close: lab.close })).toEqual([]);
    } finally {
      await lab.close();
    }
  }, 400_000);
});
