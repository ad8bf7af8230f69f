/**
 * Scale, merges in the page: two random bf16 checkpoints shaped like Qwen2.5-1.5B (3.1 GB each, two
 * shards with an index, as Hugging Face shards them; tools/random-qwen.ts into .scale/), loaded in
 * headless Chromium from local files through the folder input, merged with TA and with TIES into
 * OPFS. Each merged folder equals, file for file (SHA-256 of every 64 MiB slice), `merge-lab merge`
 * in Node on the same recipe; the browser's memory (all of its processes, sampled from outside)
 * stays ≤ 1.5 GB and within 20% of the same TA merge on two 0.5B-shaped checkpoints (1 GB each).
 * The report breaks each peak down by kind of process, beside the idle lab (demo loaded) as the floor.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, readSync, closeSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { QWEN_SHAPES, writeRandomQwen } from '../../tools/random-qwen';
import { type Lab, demoReady, openLab } from '../e2e/harness';
import { SCALE_DIR, gb } from './checkpoint';
import { describeKinds, sampleChromium, watchChromium } from './chromium-rss';

const SLICE = 64 << 20;
const BIN = path.resolve('bin/merge-lab.mjs');

/** A sharded random checkpoint in .scale/, written once (two shards: at most half its bytes each). */
async function checkpoint(name: string, shape: '0.5b' | '1.5b', seed: number): Promise<string> {
  const dir = path.join(SCALE_DIR, name);
  if (existsSync(path.join(dir, 'model.safetensors.index.json'))) return dir;
  const s = QWEN_SHAPES[shape];
  const bytes = shape === '1.5b' ? 3.1e9 : 1.0e9;
  await writeRandomQwen(dir, { shape: s, dtype: 'BF16', seed, maxShardBytes: Math.ceil(bytes / 2) + (64 << 20) });
  return dir;
}

const RECIPES = {
  ta: (a: string, b: string) =>
    `merge_method: task_arithmetic\nbase_model: ${a}\nmodels:\n  - model: ${b}\n    parameters:\n      weight: 0.7\n`,
  ties: (a: string, b: string) =>
    `merge_method: ties\nbase_model: ${a}\nmodels:\n  - model: ${b}\n    parameters:\n      weight: 1.0\n      density: 0.2\nparameters:\n  lambda: 1.0\n`,
};

/** SHA-256 of every SLICE of every file the Node merge wrote. */
function nodeDigests(dir: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const name of readdirSync(dir).sort()) {
    const size = statSync(path.join(dir, name)).size;
    const fd = openSync(path.join(dir, name), 'r');
    const buf = Buffer.alloc(Math.min(SLICE, Math.max(1, size)));
    out[name] = [];
    for (let at = 0; at < size || (size === 0 && at === 0); at += SLICE) {
      const n = readSync(fd, buf, 0, Math.min(SLICE, size - at), at);
      out[name].push(createHash('sha256').update(buf.subarray(0, n)).digest('hex'));
      if (size === 0) break;
    }
    closeSync(fd);
  }
  return out;
}

/** The same digests of the newest merge folder in the page's OPFS (`merge-lab-merge-<n>-<method>`). */
async function pageDigests(page: Page, files: string[]): Promise<Record<string, string[]>> {
  return page.evaluate(
    async ([names, slice]) => {
      const root = await navigator.storage.getDirectory();
      const merges: string[] = [];
      for await (const [name, handle] of root as unknown as AsyncIterable<[string, FileSystemHandle]>)
        if (handle.kind === 'directory' && /^merge-lab-merge-\d+-/.test(name)) merges.push(name);
      const index = (n: string) => Number(/^merge-lab-merge-(\d+)-/.exec(n)![1]);
      merges.sort((x, y) => index(y) - index(x));
      const dir = await root.getDirectoryHandle(merges[0]!);
      const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((v) => v.toString(16).padStart(2, '0')).join('');
      const out: Record<string, string[]> = {};
      for (const name of names as string[]) {
        const file = await (await dir.getFileHandle(name)).getFile();
        out[name] = [];
        for (let at = 0; at < file.size || at === 0; at += slice as number) {
          const bytes = await file.slice(at, Math.min(file.size, at + (slice as number))).arrayBuffer();
          out[name].push(hex(await crypto.subtle.digest('SHA-256', bytes)));
          if (file.size === 0) break;
        }
      }
      return out;
    },
    [files, SLICE] as const,
  );
}

/** Loads folders through the folder input, as a user picks them. */
async function loadFolders(page: Page, dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    await page.locator('[data-testid=folder-input]').setInputFiles(dir);
    await page
      .locator(`[data-testid=model-card][data-model="${path.basename(dir)}"][data-status=ready]`)
      .waitFor({ timeout: 600_000 });
  }
}

/** Types the recipe into the Recipe step and merges it; resolves with the seconds the merge took. */
async function mergeInPage(page: Page, recipe: string): Promise<number> {
  await page.click('[data-testid=step-recipe]');
  await page.locator('[data-testid=yaml]').fill(recipe);
  expect(await page.locator('[data-testid=yaml-error]').count()).toBe(0);
  await page.click('[data-testid=step-merge]');
  const t0 = Date.now();
  await page.click('[data-testid=run-merge]');
  await page.locator('[data-testid=merge-done]').waitFor({ timeout: 3_000_000 });
  return (Date.now() - t0) / 1000;
}

/** The same recipe through the Node CLI (models named relative to .scale/); returns the output folder. */
function mergeInNode(recipe: string, out: string): string {
  const file = path.join(SCALE_DIR, `${out}.yml`);
  writeFileSync(file, recipe);
  const dir = path.join(SCALE_DIR, out);
  rmSync(dir, { recursive: true, force: true });
  execFileSync('node', [BIN, 'merge', file, '--out', dir], { cwd: SCALE_DIR, stdio: ['ignore', 'ignore', 'inherit'] });
  return dir;
}

describe('scale: merges of Qwen2.5-1.5B-shaped checkpoints in the page (Chromium, OPFS)', () => {
  it('TA and TIES give the Node CLI bytes within 1.5 GB, as much memory as a 0.5B-shaped merge', async () => {
    const small = [await checkpoint('q05-a', '0.5b', 21), await checkpoint('q05-b', '0.5b', 22)];
    const large = [await checkpoint('q15-a', '1.5b', 11), await checkpoint('q15-b', '1.5b', 12)];
    const report: string[] = [];
    const peaks: Record<string, number> = {};
    for (const [label, dirs, methods] of [
      ['0.5B', small, ['ta']],
      ['1.5B', large, ['ta', 'ties']],
    ] as const) {
      const [a, b] = dirs.map((d) => path.basename(d)) as [string, string];
      for (const method of methods) {
        const recipe = RECIPES[method](a, b);
        const expected = nodeDigests(mergeInNode(recipe, `node-${label}-${method}`));
        const lab: Lab = await openLab();
        try {
          await demoReady(lab);
          const idle = sampleChromium();
          const watch = watchChromium();
          let seconds = 0;
          let peak: ReturnType<ReturnType<typeof watchChromium>['stop']> | undefined;
          try {
            await loadFolders(lab.page, [...dirs]);
            seconds = await mergeInPage(lab.page, recipe);
          } finally {
            peak = watch.stop();
            peaks[`${label} ${method}`] = peak.total;
          }
          const notice = await lab.page.locator('[data-testid=backend-notice]').innerText();
          const got = await pageDigests(lab.page, Object.keys(expected));
          expect(got).toEqual(expected);
          report.push(
            `${label} ${method}: ${seconds.toFixed(0)} s ${notice}; all Chromium processes peak ${gb(peak.total)}` +
              ` (${describeKinds(peak.atPeak)}; PSS peak ${gb(peak.pss)});` +
              ` idle lab with the demo ${gb(idle.total)} (${describeKinds(idle.byKind)})`,
          );
        } finally {
          await lab.close();
        }
      }
    }
    console.log(report.join('\n'));
    for (const m of ['ta', 'ties']) {
      expect(peaks[`1.5B ${m}`]).toBeLessThanOrEqual(1.5e9);
      expect(peaks[`1.5B ${m}`]).toBeLessThanOrEqual(1.2 * peaks['0.5B ta']!);
    }
  }, 7_200_000);
});
