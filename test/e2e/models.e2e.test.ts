/**
 * The page in real Chromium: demo family, local files (valid and truncated), privacy. Every test
 * starts from a fresh lab, and after each the page must have made no request to another origin.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeTinyModel } from '../helpers/checkpoints';
import { freshLabPerTest } from './harness';

describe('lab page', () => {
  const fresh = freshLabPerTest();

  it('loads the demo family with no clicks', async () => {
    const lab = fresh();
    const cards = lab.page.locator('[data-testid=model-card][data-status=ready]');
    await expect.poll(() => cards.count(), { timeout: 30_000 }).toBe(3);
    const text = await lab.page.locator('[data-testid=model-card][data-model=demo-slow]').innerText();
    expect(text).toMatch(/Qwen2ForCausalLM/);
    expect(text).toMatch(/F32/);
  });

  it('loads a valid local model and reports a truncated shard by file name, staying usable', async () => {
    const lab = fresh();
    const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-e2e-'));
    writeTinyModel(path.join(dir, 'good'), { seed: 5 });
    writeTinyModel(path.join(dir, 'broken'), { seed: 6 });
    const shard = path.join(dir, 'broken', 'model.safetensors');
    const bytes = readFileSync(shard);
    writeFileSync(shard, bytes.subarray(0, bytes.length - 100));
    const input = lab.page.locator('[data-testid=files-input]');
    await input.setInputFiles(['config.json', 'model.safetensors'].map((f) => path.join(dir, 'good', f)));
    await expect
      .poll(() => lab.page.locator('[data-testid=model-card][data-status=ready]').count(), { timeout: 10_000 })
      .toBe(4);
    mkdirSync(path.join(dir, 'x'), { recursive: true });
    await input.setInputFiles(['config.json', 'model.safetensors'].map((f) => path.join(dir, 'broken', f)));
    const err = lab.page.locator('[data-testid=model-error]');
    await expect.poll(() => err.count(), { timeout: 10_000 }).toBe(1);
    expect(await err.innerText()).toMatch(/model\.safetensors.*truncated/);
    // Still usable: the recipe step opens and the demo models are offered.
    await lab.page.click('[data-testid=step-recipe]');
    expect(await lab.page.locator('[data-testid=yaml]').inputValue()).toMatch(/merge_method: task_arithmetic/);
    expect(lab.consoleErrors.filter((e) => !/WebGPU|adapter/i.test(e))).toEqual([]); // reported in the page, not thrown
  });

  it('loads without console errors, all from its own origin', async () => {
    const lab = fresh();
    expect(lab.requests.length).toBeGreaterThan(3);
    expect(lab.consoleErrors.filter((e) => !/WebGPU|adapter/i.test(e))).toEqual([]);
  });
});
