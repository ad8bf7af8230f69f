/**
 * The WebGPU backward pass of Sens-Merging in headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core, the page served by Vite's dev server), on the page's own adapter: SwiftShader
 * here, with no shader-f16 and 256 invocations per workgroup. The generated head_dim-128 checkpoint
 * (bf16, GQA, tied head) and both demo models (f32, GQA, q/k/v biases, untied head) against their
 * PyTorch goldens, as in Node (sens-pass.test.ts). Fails when Chromium is not installed.
 */
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SensGolden } from '../../tools/sens/make-goldens';
import { writeRandomQwen } from '../../tools/random-qwen';
import { expectGoldenParity } from './sens-golden';
import { useDevPage } from '../helpers/dev-page';

interface PageResult {
  adapter: string;
  results: {
    loss: number;
    tensors: Record<string, { abs: number; signed: number }>;
    gradients: Record<string, number[]>;
    ms: number;
  }[];
}

describe('Sens-Merging backward pass on WebGPU in Chromium', () => {
  const dev = useDevPage('test/gpu/sens-browser/index.html', 'node_modules/.vite-sens-test');

  async function run(name: string, model: Record<string, string> | string): Promise<void> {
    const golden = JSON.parse(readFileSync(`test/golden/sens-${name}.json`, 'utf8')) as SensGolden;
    const page = await dev.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${dev.base}/test/gpu/sens-browser/index.html`);
    await page.waitForFunction(() => document.getElementById('out')?.textContent === 'ready', undefined, {
      timeout: 120_000,
    });
    const r = await page.evaluate(
      ([m, s, p]) => (window as unknown as { __sens: (...a: unknown[]) => Promise<PageResult> }).__sens(m, s, p),
      [model, golden.samples, golden.probes] as const,
    );
    expect(r.adapter).toMatch(/swiftshader/i);
    r.results.forEach((x, i) => {
      const worst = expectGoldenParity(golden, i, {
        loss: x.loss,
        tensors: new Map(Object.entries(x.tensors)),
        gradients: new Map(Object.entries(x.gradients)),
      });
      console.log(`Chromium ${r.adapter}, ${name} sample ${i}: ${x.ms.toFixed(0)} ms; worst ${JSON.stringify(worst)}`);
    });
    expect(errors).toEqual([]);
    await page.close();
  }

  it('hd128 (bf16, GQA, tied head): PyTorch parity on SwiftShader', { timeout: 600_000 }, async () => {
    const golden = JSON.parse(readFileSync('test/golden/sens-hd128.json', 'utf8')) as SensGolden;
    if (!('randomQwen' in golden.source)) throw new Error('sens-hd128.json: expected a generated checkpoint');
    const dir = path.join(dev.tmp, 'hd128');
    await writeRandomQwen(dir, golden.source.randomQwen);
    await run(
      'hd128',
      Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f)).toString('base64')])),
    );
  });

  it.each(['demo-quick', 'demo-slow'])(
    '%s (f32, q/k/v biases, untied head): PyTorch parity on SwiftShader',
    { timeout: 600_000 },
    async (name) => {
      await run(name, name);
    },
  );
});
