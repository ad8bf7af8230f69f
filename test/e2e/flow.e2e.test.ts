/**
 * The lab's happy path in real Chromium (WebGPU on SwiftShader): the demo family loads, the TA
 * preset merges on WebGPU with a moving progress bar, the built-in set is evaluated, and the merge
 * answers shorter than System 2. Also: browser bytes equal Node's, cancel offers nothing to export,
 * and DARE masks are bit-identical in the browser worker and in Node. Every test starts from a
 * fresh lab (its own profile and OPFS) and makes what it needs, so any one can run alone.
 */
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { decodeToF32 } from '../../src/core/dtype';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { SafetensorsFile } from '../../src/core/formats/safetensors';
import { MemoryByteSource } from '../../src/core/io/byte-source';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { merge } from '../../src/core/merge/execute';
import { parseRecipe } from '../../src/core/recipe/parse';
import { DEFAULT_DARE_PROBE, dareProbeBytes } from '../../src/gpu/dare-probe';
import { FsModelFolder } from '../../src/node/fs-folder';
import { gpuBackend } from '../gpu/gpu-env';
import { freshLabPerTest } from './harness';

const TA =
  'merge_method: task_arithmetic\nbase_model: demo-quick\nmodels:\n  - model: demo-slow\n    parameters:\n      weight: 0.7\n';

type MergeLabHook = {
  models(): { name: string; origin: string }[];
  fileBase64(model: string, file: string): Promise<string>;
  dareProbe(): Promise<string>;
};

/** Picks a recipe preset and merges it in the page; resolves when the merge is done. */
async function mergePreset(page: Page, preset: 'ta' | 'ties'): Promise<void> {
  await page.click('[data-testid=step-recipe]');
  await page.click(`[data-testid=preset-${preset}]`);
  await page.click('[data-testid=step-merge]');
  await page.click('[data-testid=run-merge]');
  await page.locator('[data-testid=merge-done]').waitFor({ timeout: 120_000 });
}

describe('lab flow', () => {
  const lab = freshLabPerTest();

  it('cancelling a merge offers nothing for export', async () => {
    const { page } = lab();
    await page.click('[data-testid=step-recipe]');
    await page.click('[data-testid=preset-ties]');
    await page.click('[data-testid=step-merge]');
    await page.click('[data-testid=run-merge]');
    await page.locator('[data-testid=merge-progress-text]').filter({ hasText: 'tensors' }).waitFor({ timeout: 60_000 });
    await page.click('[data-testid=cancel-merge]');
    await expect
      .poll(() => page.locator('[data-testid=merge-error]').textContent(), { timeout: 60_000 })
      .toMatch(/cancelled.*discarded/i);
    await page.click('[data-testid=step-export]');
    expect(await page.locator('[data-testid=no-merges]').count()).toBe(1);
    expect(await page.locator('[data-testid=export-merge]').count()).toBe(0);
    const models = await page.evaluate(() => (globalThis as unknown as { mergeLab: MergeLabHook }).mergeLab.models());
    expect(models.filter((m) => m.origin === 'merged')).toEqual([]);
  });

  it('merges the TA preset on WebGPU with a moving progress bar, and the bytes match Node', async () => {
    const { page } = lab();
    await page.click('[data-testid=step-recipe]');
    await page.click('[data-testid=preset-ta]');
    expect(await page.locator('[data-testid=yaml]').inputValue()).toBe(TA);
    await page.click('[data-testid=step-merge]');
    await page.click('[data-testid=run-merge]');
    const seen = new Set<string>();
    const bar = page.locator('[data-testid=progress]');
    for (let i = 0; i < 200 && (await page.locator('[data-testid=merge-done]').count()) === 0; i++) {
      const v = await bar.getAttribute('aria-valuenow').catch(() => null);
      if (v) seen.add(v);
      await page.waitForTimeout(25);
    }
    await page.locator('[data-testid=merge-done]').waitFor({ timeout: 120_000 });
    expect(seen.size).toBeGreaterThan(1); // the bar moved
    expect(await page.locator('[data-testid=backend-notice]').innerText()).toMatch(/webgpu/i);

    // The browser's output against the same recipe merged in Node (lavapipe).
    const name = (
      await page.evaluate(() => (globalThis as unknown as { mergeLab: MergeLabHook }).mergeLab.models())
    ).find((m) => m.origin === 'merged')!.name;
    const b64 = await page.evaluate(
      ([m]) => (globalThis as unknown as { mergeLab: MergeLabHook }).mergeLab.fileBase64(m!, 'model.safetensors'),
      [name],
    );
    const browser = await SafetensorsFile.open(
      new MemoryByteSource(new Uint8Array(Buffer.from(b64, 'base64')), 'browser.safetensors'),
    );
    const sources = new Map([
      ['demo-quick', await Checkpoint.open(new FsModelFolder('public/models/demo-quick'))],
      ['demo-slow', await Checkpoint.open(new FsModelFolder('public/models/demo-slow'))],
    ]);
    const backend = await gpuBackend();
    const out = new MemoryOutputFolder();
    await merge(parseRecipe(TA).recipe, sources, backend, out);
    await backend.dispose();
    const node = await SafetensorsFile.open(
      new MemoryByteSource(out.files.get('model.safetensors')!, 'node.safetensors'),
    );
    expect([...browser.tensors.keys()].sort()).toEqual([...node.tensors.keys()].sort());
    for (const t of node.tensors.keys()) {
      const a = decodeToF32(await browser.readRange(t), browser.info(t).dtype);
      const b = decodeToF32(await node.readRange(t), node.info(t).dtype);
      const scale = Math.max(1e-30, ...b.map(Math.abs));
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst / scale, t).toBeLessThanOrEqual(1e-6);
    }
    for (const c of sources.values()) await c.close();
  });

  it('evaluates the built-in set: the merge answers shorter than System 2', async () => {
    const { page } = lab();
    await mergePreset(page, 'ta');
    await page.click('[data-testid=step-compare]');
    await page.locator('[data-testid=run-eval]').waitFor();
    const limit = page.locator('input[type=number]').nth(0);
    await limit.fill('12');
    await page.selectOption('[data-testid=ep-select]', process.env.E2E_EP ?? 'wasm');
    const t0 = Date.now();
    await page.click('[data-testid=run-eval]');
    await page.locator('[data-testid=results-table]').waitFor({ timeout: 600_000 });
    console.log(`evaluation took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const rows = await page.locator('[data-testid=results-table] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        model: tr.getAttribute('data-model')!,
        tokens: Number(tr.querySelector('[data-col=mean-tokens]')!.textContent),
      })),
    );
    const byName = Object.fromEntries(rows.map((r) => [r.model, r.tokens]));
    expect(Object.keys(byName)).toEqual(expect.arrayContaining(['demo-quick', 'demo-slow']));
    const mergeRow = rows.find((r) => r.model.startsWith('merge-'));
    expect(mergeRow).toBeDefined();
    expect(mergeRow!.tokens).toBeLessThan(byName['demo-slow']!);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/lab-compare.png', fullPage: true });
  }, 660_000);

  it('shows each weight format with its memory and evaluates in q4', async () => {
    const { page } = lab();
    await page.click('[data-testid=step-compare]');
    await page.locator('[data-testid=run-eval]').waitFor();
    await page.selectOption('[data-testid=ep-select]', 'wasm');
    const sizes = page.locator('[data-testid=weights-size]');
    await expect.poll(() => sizes.count(), { timeout: 60_000 }).toBe(3);
    for (const text of await sizes.allTextContents()) expect(text).toMatch(/MB .*KV cache .* tokens/);
    await page.locator('[data-testid=weights-q4] input').check();
    await page.locator('input[type=number]').nth(0).fill('2');
    await page.locator('input[type=number]').nth(1).fill('16');
    await page.click('[data-testid=run-eval]');
    await page.locator('[data-testid=results-table]').waitFor({ timeout: 300_000 });
    await expect.poll(() => page.locator('[data-testid=run-formats]').textContent()).toMatch(/q4 \(blocks of 32\)/);
  }, 360_000);

  it('DARE masks are bit-identical in the browser worker and in Node', async () => {
    const b64 = await lab().page.evaluate(() =>
      (globalThis as unknown as { mergeLab: MergeLabHook }).mergeLab.dareProbe(),
    );
    const backend = await gpuBackend();
    const node = await dareProbeBytes(backend, DEFAULT_DARE_PROBE);
    await backend.dispose();
    expect(Buffer.from(b64, 'base64').equals(Buffer.from(node))).toBe(true);
  });

  it('calibrates the base in the page and merges with AIM on top of TIES', async () => {
    const { page } = lab();
    await page.click('[data-testid=step-recipe]');
    await page.click('[data-testid=preset-ties]');
    await page.check('[data-testid=aim-panel] input[type=checkbox]');
    expect(await page.locator('[data-testid=yaml]').inputValue()).toMatch(
      /aim:\n\s+omega: 0\.4\n\s+calibration: demo-quick\.arith-heldout\.aim-stats\.json/,
    );
    await page.click('[data-testid=aim-calibrate]');
    await page
      .locator('[data-testid=aim-status]')
      .filter({ hasText: /linear weights/ })
      .waitFor({ timeout: 120_000 });
    expect(await page.locator('[data-testid=aim-status]').innerText()).toMatch(/28 linear weights from \d+ tokens/);
    await page.click('[data-testid=step-merge]');
    expect(await page.locator('[data-testid=run-merge]').innerText()).toMatch(/TIES \+ AIM \(ω=0\.4\)/);
    await page.click('[data-testid=run-merge]');
    await page.locator('[data-testid=merge-done]').waitFor({ timeout: 120_000 });
  }, 300_000);
});
