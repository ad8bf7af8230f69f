/**
 * End-to-end harness: builds the app, serves it with `vite preview` (COOP/COEP on), and drives
 * Debian's Chromium through playwright-core. Every request the page makes is recorded so tests
 * can assert that nothing leaves the page's origin. `freshLabPerTest` gives each test its own
 * server, browser profile and OPFS, so no test depends on another having run (or run first).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { type PreviewServer, build, preview } from 'vite';
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/dev-page';

export { CHROMIUM } from '../helpers/dev-page';

export interface Lab {
  url: string;
  context: BrowserContext;
  page: Page;
  requests: string[];
  consoleErrors: string[];
  close(): Promise<void>;
}

// Each test file runs in its own process: each builds once into its own folder (removed when the
// file is done), so parallel files never clobber one another.
const OUT_DIR = `.cache/e2e-dist-${process.pid}`;
let built: Promise<void> | undefined;
function buildOnce(): Promise<void> {
  built ??= build({ logLevel: 'error', build: { outDir: OUT_DIR, emptyOutDir: true, sourcemap: false } }).then(
    () => undefined,
  );
  return built;
}

/** A browser page on `url` (own profile and OPFS), recording its requests and console errors. */
export async function openPage(
  url: string,
  viewport = { width: 1280, height: 900 },
): Promise<Omit<Lab, 'close'> & { close(): Promise<void> }> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM} (scripts/test.sh installs Debian's chromium)`);
  const profile = mkdtempSync(path.join(tmpdir(), 'merge-lab-chrome-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport,
    args: [...CHROMIUM_ARGS, '--enable-features=Vulkan'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(url);
  // The profile holds OPFS (a merged model can be gigabytes): removed with the browser.
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { url, context, page, requests, consoleErrors, close };
}

export async function openLab(): Promise<Lab> {
  await buildOnce();
  const server: PreviewServer = await preview({
    logLevel: 'error',
    build: { outDir: OUT_DIR },
    preview: { port: 0, host: '127.0.0.1' },
  });
  const address = server.httpServer.address();
  const port = typeof address === 'object' && address ? address.port : 4173;
  const opened = await openPage(`http://127.0.0.1:${port}/`);
  return {
    ...opened,
    async close() {
      await opened.close();
      await new Promise<void>((res) => server.httpServer.close(() => res()));
    },
  };
}

/** Waits until the built-in demo family (three models) is loaded and ready. */
export async function demoReady(lab: Lab): Promise<void> {
  await lab.page.locator('[data-testid=model-card][data-status=ready]').nth(2).waitFor({ timeout: 60_000 });
}

/**
 * Call at the top of a describe: every test gets a new lab (own server, profile and OPFS, the
 * demo family loaded), and after each the page must have made no request to another origin.
 */
export function freshLabPerTest(): () => Lab {
  let lab: Lab | undefined;
  beforeEach(async () => {
    lab = await openLab();
    await demoReady(lab);
  }, 240_000);
  afterEach(async () => {
    const done = lab;
    lab = undefined;
    try {
      if (done) expect(foreignRequests(done)).toEqual([]);
    } finally {
      await done?.close();
    }
  });
  afterAll(() => rmSync(OUT_DIR, { recursive: true, force: true }));
  return () => {
    if (!lab) throw new Error('no lab: freshLabPerTest() gives one inside a test only');
    return lab;
  };
}

/**
 * Compare step: picks the EP, ticks exactly `names` among the models, and sets Problems and Max new
 * tokens (the first two number fields).
 */
export async function setUpCompare(
  page: Page,
  names: readonly string[],
  opts: { problems: number; maxNewTokens: number; ep?: string },
): Promise<void> {
  await page.click('[data-testid=step-compare]');
  await page.locator('[data-testid=run-eval]').waitFor();
  await page.selectOption('[data-testid=ep-select]', opts.ep ?? 'wasm');
  const models = page.locator('fieldset', { hasText: 'Models' });
  await models.locator('label', { hasText: names[0]! }).locator('input').waitFor();
  for (const label of await models.locator('label').all()) {
    const text = await label.innerText();
    const box = label.locator('input[type=checkbox]');
    if (names.some((n) => text.includes(n))) await box.check();
    else await box.uncheck();
  }
  await page.locator('input[type=number]').nth(0).fill(String(opts.problems));
  await page.locator('input[type=number]').nth(1).fill(String(opts.maxNewTokens));
}

/** Requests that left the page's origin (data: and blob: URLs are local). */
export function foreignRequests(lab: Lab): string[] {
  const origin = new URL(lab.url).origin;
  return lab.requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin);
}
