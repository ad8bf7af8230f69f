/**
 * The static build on a plain host: `vite build` (the project's config, relative base) into a
 * folder of its own, served under a sub-path by a minimal Node file server that sends no
 * COOP/COEP headers. The page loads its assets, the demo family and onnxruntime-web's wasm from
 * that sub-path, says that wasm runs on one thread, runs one evaluation, and cancels another
 * (without shared memory, through the worker's messages). The same index.html
 * opened from file:// says in words what to do instead of staying blank.
 */
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoReady, foreignRequests, openPage, setUpCompare } from './harness';

const SUB_PATH = '/labs/merge-lab/';
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.jsonl': 'text/plain',
  '.svg': 'image/svg+xml',
};

/** Serves `dir` under SUB_PATH with a content type and nothing else (no isolation headers). */
function serveStatic(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith(SUB_PATH)) return void res.writeHead(404).end();
    let file = path.join(dir, decodeURIComponent(url.pathname.slice(SUB_PATH.length)));
    if (!file.startsWith(dir)) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}${SUB_PATH}` });
    }),
  );
}

describe('the static build', () => {
  const outDir = mkdtempSync(path.join(tmpdir(), 'merge-lab-static-'));
  let host: { server: Server; url: string } | undefined;
  beforeAll(async () => {
    await build({ logLevel: 'error', build: { outDir, emptyOutDir: true, sourcemap: false } });
    host = await serveStatic(outDir);
  }, 120_000);
  afterAll(async () => {
    await new Promise<void>((res) => (host ? host.server.close(() => res()) : res()));
    rmSync(outDir, { recursive: true, force: true });
  });

  it('runs an evaluation under a sub-path of a host without COOP/COEP headers', async () => {
    const lab = await openPage(host!.url);
    try {
      await demoReady({ ...lab, close: lab.close });
      expect(await lab.page.evaluate(() => globalThis.crossOriginIsolated)).toBe(false);
      expect(await lab.page.locator('[data-testid=wasm-threads]').innerText()).toMatch(/one thread/);
      await setUpCompare(lab.page, ['demo-quick'], { problems: 1, maxNewTokens: 8 });
      await lab.page.click('[data-testid=run-eval]');
      await lab.page.locator('[data-testid=results-table]').waitFor({ timeout: 300_000 });
      expect(await lab.page.locator('[data-testid=results-table] tbody tr').count()).toBe(1);
      // Everything came from under the sub-path, onnxruntime-web's wasm included.
      const own = lab.requests.filter((u) => u.startsWith('http'));
      expect(own.filter((u) => !u.startsWith(host!.url))).toEqual([]);
      expect(own.some((u) => /\/ort\/ort-wasm[\w.-]*\.wasm$/.test(u))).toBe(true);

      // Without shared memory, Cancel reaches the worker as a message, between two tokens.
      await setUpCompare(lab.page, ['demo-slow'], { problems: 4, maxNewTokens: 300 });
      await lab.page.locator('[data-testid=batch-input]').fill('1');
      await lab.page.click('[data-testid=run-eval]');
      await lab.page
        .locator('[data-testid=eval-wait]')
        .filter({ hasText: /^\s*1\/4 responses/ })
        .waitFor({ timeout: 120_000 });
      const t0 = Date.now();
      await lab.page.click('[data-testid=cancel-eval]');
      await lab.page
        .locator('[role=alert]')
        .filter({ hasText: /cancelled/i })
        .waitFor({ timeout: 30_000 });
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(await lab.page.locator('[data-testid=results-table]').count()).toBe(0);
      await setUpCompare(lab.page, ['demo-quick'], { problems: 1, maxNewTokens: 8 });
      await lab.page.click('[data-testid=run-eval]'); // the worker is free again
      await lab.page.locator('[data-testid=results-table]').waitFor({ timeout: 120_000 });
      expect(foreignRequests({ ...lab, close: lab.close })).toEqual([]);
    } finally {
      await lab.close();
    }
  }, 400_000);

  it('opened from file://, says what to do', async () => {
    const lab = await openPage(pathToFileURL(path.join(outDir, 'index.html')).href);
    try {
      await lab.page.waitForTimeout(1_000); // the module script is refused; nothing replaces the words
      const text = await lab.page.locator('body').innerText();
      expect(text).toMatch(/file:\/\//);
      expect(text).toMatch(/serve this folder over HTTP/);
    } finally {
      await lab.close();
    }
  }, 60_000);
});
