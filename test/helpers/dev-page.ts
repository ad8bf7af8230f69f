/**
 * A test page served by Vite's dev server and Debian's Chromium (playwright-core) with its own
 * profile, for one describe block: started before its tests, closed after. The page's imports are
 * crawled at start-up, so Vite never discovers a dependency late and reloads the page mid-run.
 * Fails, never skips, when Chromium is not installed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { type ViteDevServer, createServer } from 'vite';
import { afterAll, beforeAll } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a headless test browser: WebGPU on, and nothing that reaches the network by itself. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface DevPage {
  /** The server's origin, e.g. http://127.0.0.1:41234. */
  readonly base: string;
  readonly context: BrowserContext;
  /** A scratch folder removed with the browser. */
  readonly tmp: string;
}

/** `entry`: the test page's index.html; `cacheDir`: Vite's dependency cache for it (its own per page). */
export function useDevPage(entry: string, cacheDir: string): DevPage {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (scripts/test.sh does)`);
  const tmp = mkdtempSync(path.join(tmpdir(), 'merge-lab-dev-page-'));
  const state = { tmp } as { base: string; context: BrowserContext; tmp: string };
  let server: ViteDevServer | undefined;
  beforeAll(async () => {
    server = await createServer({
      logLevel: 'warn',
      server: { port: 0, host: '127.0.0.1' },
      optimizeDeps: { entries: [entry] },
      cacheDir,
    });
    await server.listen();
    const a = server.httpServer!.address();
    state.base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 5173}`;
    state.context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    });
  }, 300_000);
  afterAll(async () => {
    await state.context?.close();
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });
  return state;
}
