/**
 * Sens-Merging in the page (Chromium): the Recipe step calibrates demo-slow in the sensitivity
 * worker (a set with no usable target tokens is refused, Cancel stops a run, progress moves),
 * imports demo-quick's statistics file made by `merge-lab sensitivity` (files of another model or
 * with a layer missing are refused, naming it), draws the per-layer coefficients and merges; the
 * coefficients equal those the CLI prints and the merged tensors' bytes equal `merge-lab merge` of
 * the page's recipe with the CLI's statistics files. Merge is disabled, saying why, until every
 * model has statistics; demo-quick (System 1) is calibrated on demo-slow's responses from an
 * imported `merge-lab eval --json` file (its default once the file is there), and the saved
 * statistics file records that text.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshLabPerTest } from './harness';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const SET = path.resolve('public/data/arith-heldout.jsonl');
const dir = mkdtempSync(path.join(tmpdir(), 'sens-e2e-'));
const SLOW_FILE = 'demo-slow.arith-heldout.short.sens-stats.json'; // the name the page gives its own calibration
const QUICK_FILE = 'quick.sens-stats.json';
const QUICK_ON_RESPONSES = 'demo-quick.arith-heldout.long.demo-slow-responses.sens-stats.json';
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Hook = {
  mergeLab: { models(): { name: string; origin: string }[]; fileBase64(m: string, f: string): Promise<string> };
};

/** A safetensors file's tensor table, recorded recipe and data bytes. */
function safetensorsParts(bytes: Buffer) {
  const n = Number(bytes.readBigUInt64LE(0));
  const { __metadata__: meta, ...tensors } = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  return { tensors, recipe: String(meta.merge_recipe), data: bytes.subarray(8 + n) };
}

beforeAll(async () => {
  for (const m of ['demo-quick', 'demo-slow']) symlinkSync(path.resolve('public/models', m), path.join(dir, m));
  const stats = (model: string, other: string, out: string) =>
    run(
      'node',
      [BIN, 'sensitivity', '--model', model, '--set', SET, '--samples', '2', '--compare', other, '--out', out],
      {
        cwd: dir,
      },
    );
  const evalArgs = ['eval', '--models', 'demo-slow', '--set', SET, '--limit', '3', '--max-new-tokens', '48'];
  await Promise.all([
    stats('demo-slow', 'demo-quick', SLOW_FILE),
    stats('demo-quick', 'demo-slow', QUICK_FILE),
    run('node', [BIN, ...evalArgs, '--batch', '1', '--json', 'eval.json'], { cwd: dir }),
  ]);
  const partial = JSON.parse(readFileSync(path.join(dir, QUICK_FILE), 'utf8'));
  delete partial.layers['model.layers.1'];
  writeFileSync(path.join(dir, 'partial.sens-stats.json'), JSON.stringify(partial));
}, 120_000);

describe('Sens-Merging in the page', () => {
  const lab = freshLabPerTest();

  it('calibrates, imports, draws the coefficients and merges the bytes of the CLI', async () => {
    const { page } = lab();
    await page.click('[data-testid=step-recipe]');
    await page.selectOption('[data-testid=method]', 'sens_merging');
    const panel = page.locator('[data-testid=sens-panel]');
    await panel.waitFor();
    const error = panel.locator('[data-testid=sens-error]');
    const why = page.locator('[data-testid=merge-why]');
    // No statistics yet: Merge is disabled and says why; System 1 takes the reference solutions, with a note.
    expect(await panel.locator('[data-testid=sens-text-note]').innerText()).toMatch(/no evaluation with demo-slow/);
    await page.click('[data-testid=step-merge]');
    expect(await page.locator('[data-testid=run-merge]').isDisabled()).toBe(true);
    expect(await why.innerText()).toMatch(/Sens-Merging needs statistics for demo-quick, demo-slow/);
    await page.click('[data-testid=step-recipe]');

    // A calibration set with no usable target token: the worker's typed error, shown as the CLI words it.
    await panel.locator('[data-testid=sens-max-tokens]').fill('1');
    await panel.locator('[data-testid=sens-samples]').fill('2');
    await page.click('[data-testid=sens-calibrate-demo-slow]');
    await expect.poll(() => error.textContent(), { timeout: 60_000 }).toMatch(/has a token to take the loss on/);

    // Cancel stops a run: nothing is kept.
    await panel.locator('[data-testid=sens-max-tokens]').fill('');
    await panel.locator('[data-testid=sens-samples]').fill('50');
    await page.click('[data-testid=sens-calibrate-demo-slow]');
    await panel.locator('[role=progressbar]').waitFor({ timeout: 30_000 });
    await page.click('[data-testid=sens-cancel]');
    await expect.poll(() => panel.locator('[data-testid=sens-status]').textContent()).toMatch(/cancelled/);
    expect(await page.locator('[data-testid=sens-model-demo-slow]').innerText()).toMatch(/no statistics/);

    // The real calibration, with progress; the same samples as the CLI's (2, seed 1).
    await panel.locator('[data-testid=sens-samples]').fill('2');
    await page.click('[data-testid=sens-calibrate-demo-slow]');
    const seen = new Set<string>();
    for (
      let i = 0;
      i < 400 && !(await page.locator('[data-testid=sens-model-demo-slow]').innerText()).includes(SLOW_FILE);
      i++
    ) {
      const v = await panel
        .locator('[role=progressbar]')
        .getAttribute('aria-valuenow', { timeout: 50 })
        .catch(() => null);
      if (v) seen.add(v);
      await page.waitForTimeout(25);
    }
    expect(await page.locator('[data-testid=sens-model-demo-slow]').innerText()).toContain(SLOW_FILE);
    expect(seen.size).toBeGreaterThan(0);
    // Calibrating again reuses the statistics.
    await page.click('[data-testid=sens-calibrate-demo-slow]');
    await expect.poll(() => panel.locator('[data-testid=sens-status]').textContent()).toMatch(/reused/);
    await page.click('[data-testid=step-merge]');
    expect(await why.innerText()).toMatch(/needs statistics for demo-quick:/);
    await page.click('[data-testid=step-recipe]');

    // demo-quick on demo-slow's responses from the CLI's eval file: the default once it is imported.
    await panel.locator('[data-testid=sens-import-responses]').setInputFiles(path.join(dir, 'eval.json'));
    const text = panel.locator('[data-testid=sens-text-demo-quick]');
    await expect.poll(() => text.locator('option:checked').textContent()).toBe('responses of demo-slow (eval.json)');
    expect(await panel.locator('[data-testid=sens-text-note]').count()).toBe(0);
    await panel.locator('[data-testid=sens-samples]').fill('2'); // the panel's fields start afresh after a step change
    await page.click('[data-testid=sens-calibrate-demo-quick]');
    const quickRow = page.locator('[data-testid=sens-model-demo-quick]');
    await expect.poll(() => quickRow.innerText(), { timeout: 60_000 }).toContain(QUICK_ON_RESPONSES);
    const [saved] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-testid=sens-save-demo-quick]'),
    ]);
    const onResponses = JSON.parse(readFileSync((await saved.path())!, 'utf8'));
    expect(onResponses.calibration).toMatchObject({ text: 'responses', answers: 'long', samples: 2 });
    expect(onResponses.readings.text).toMatch(/long answer from a model's responses/);

    // Imports: another model's file and a file with a layer missing are refused, naming them.
    const importQuick = panel.locator('[data-testid=sens-import-demo-quick]');
    await panel.locator('[data-testid=sens-import-demo-slow]').setInputFiles(path.join(dir, QUICK_FILE));
    await expect.poll(() => error.textContent()).toMatch(/statistics of model 'demo-quick', not 'demo-slow'/);
    await importQuick.setInputFiles(path.join(dir, 'partial.sens-stats.json'));
    await expect.poll(() => error.textContent()).toMatch(/no sensitivity for layer 'model\.layers\.1'/);
    await importQuick.setInputFiles(path.join(dir, QUICK_FILE));
    await expect.poll(() => page.locator('[data-testid=sens-model-demo-quick]').innerText()).toContain(QUICK_FILE);

    // λ = 0.4, T = 3 (the paper's 1.5B setting): the chart and the table of λ·w^l.
    await page.getByLabel('lambda (λ)', { exact: true }).fill('0.4');
    await page.getByLabel('lambda (λ)', { exact: true }).press('Tab');
    await page.getByLabel('temperature (T)', { exact: true }).fill('3');
    await page.getByLabel('temperature (T)', { exact: true }).press('Tab');
    await panel.locator('[data-testid=sens-chart] canvas').waitFor();
    const yaml = await page.locator('[data-testid=yaml]').inputValue();
    expect(yaml).toMatch(/merge_method: sens_merging/);
    expect(yaml).toMatch(/temperature: 3/);
    const table = await panel.locator('[data-testid=sens-coefficients] tbody tr').allInnerTexts();

    // The same recipe in the CLI, with the CLI's two statistics files.
    writeFileSync(path.join(dir, 'page.yml'), yaml);
    const cli = await run('node', [BIN, 'merge', 'page.yml', '--out', 'cli-merged', '--backend', 'cpu'], { cwd: dir });
    const printed = cli.stderr.split('\n').filter((l) => /^(model\.|lm_head)/.test(l));
    const cliRows = new Map(printed.map((l) => [l.split('\t')[0]!.trim(), l.split('\t')[1]!]));
    expect(table.length).toBe(cliRows.size);
    for (const row of table) {
      const [label, value] = row.split('\t');
      const group = label!.startsWith('block ')
        ? `model.layers.${label!.slice(6)}`
        : label === 'lm_head'
          ? label
          : `model.${label}`;
      expect(value, group).toBe(cliRows.get(group));
    }

    await page.click('[data-testid=step-merge]');
    await page.selectOption('[data-testid=merge-backend]', 'cpu');
    await page.click('[data-testid=run-merge]');
    await page.locator('[data-testid=merge-done]').waitFor({ timeout: 60_000 });
    const merged = (await page.evaluate(() => (globalThis as unknown as Hook).mergeLab.models())).find(
      (m) => m.origin === 'merged',
    )!.name;
    const b64 = await page.evaluate(
      ([m]) => (globalThis as unknown as Hook).mergeLab.fileBase64(m!, 'model.safetensors'),
      [merged],
    );
    const browser = safetensorsParts(Buffer.from(b64, 'base64'));
    const node = safetensorsParts(readFileSync(path.join(dir, 'cli-merged', 'model.safetensors')));
    expect(browser.data.length).toBeGreaterThan(1e6);
    expect(browser.data.equals(node.data)).toBe(true); // every tensor's bytes
    expect(browser.tensors).toEqual(node.tensors);
    // The recipe recorded in the header: the page's own calibration of demo-slow agrees with the CLI's
    // to the last few bits (Chromium's and Node's V8 round some Math functions differently).
    const coefficients = (s: string) => [...s.matchAll(/value: ([\d.e-]+)/g)].map((m) => Number(m[1]));
    const [a, b] = [coefficients(browser.recipe), coefficients(node.recipe)];
    expect(a.length).toBe(7);
    a.forEach((x, i) => expect(Math.abs(x - b[i]!)).toBeLessThan(1e-12));
  }, 240_000);
});
