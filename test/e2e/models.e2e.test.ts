/** The page in real Chromium: demo family, local files (valid and truncated), privacy. */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyModel } from '../helpers/checkpoints';
import { type Lab, foreignRequests, openLab } from './harness';

describe('lab page', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await openLab();
  }, 180_000);
  afterAll(async () => lab?.close());

  it('loads the demo family with no clicks', async () => {
    const cards = lab.page.locator('[data-testid=model-card][data-status=ready]');
    await expect.poll(() => cards.count(), { timeout: 30_000 }).toBe(3);
    const text = await lab.page.locator('[data-testid=model-card][data-model=demo-slow]').innerText();
    expect(text).toMatch(/Qwen2ForCausalLM/);
    expect(text).toMatch(/F32/);
  });

  it('loads a valid local model and reports a truncated shard by file name, staying usable', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'merge-lab-e2e-'));
    writeTinyModel(path.join(dir, 'good'), { seed: 5 });
    writeTinyModel(path.join(dir, 'broken'), { seed: 6 });
    const shard = path.join(dir, 'broken', 'model.safetensors');
    const bytes = readFileSync(shard);
    writeFileSync(shard, bytes.subarray(0, bytes.length - 100));
    const input = lab.page.locator('[data-testid=files-input]');
    await input.setInputFiles(['config.json', 'model.safetensors'].map((f) => path.join(dir, 'good', f)));
    await expect.poll(() => lab.page.locator('[data-testid=model-card][data-status=ready]').count(), { timeout: 10_000 }).toBe(4);
    mkdirSync(path.join(dir, 'x'), { recursive: true });
    await input.setInputFiles(['config.json', 'model.safetensors'].map((f) => path.join(dir, 'broken', f)));
    const err = lab.page.locator('[data-testid=model-error]');
    await expect.poll(() => err.count(), { timeout: 10_000 }).toBe(1);
    expect(await err.innerText()).toMatch(/model\.safetensors.*truncated/);
    // Still usable: the recipe step opens and the demo models are offered.
    await lab.page.click('[data-testid=step-recipe]');
    expect(await lab.page.locator('[data-testid=yaml]').inputValue()).toMatch(/merge_method: task_arithmetic/);
  });

  it('makes no request to any other origin', async () => {
    expect(lab.requests.length).toBeGreaterThan(3);
    expect(foreignRequests(lab)).toEqual([]);
    expect(lab.consoleErrors.filter((e) => !/WebGPU|adapter/i.test(e))).toEqual([]);
  });
});
