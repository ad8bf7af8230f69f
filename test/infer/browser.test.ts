/**
 * The evaluation worker the app uses, in headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core, served by Vite's dev server): the same greedy answer as the engine in Node, on
 * the wasm EP and on the WebGPU EP (SwiftShader in this Chromium), with the EP report and the
 * text streamed while it was generated; and batched evaluation in the worker (batch 3 against batch
 * 1 on SwiftShader's WebGPU; the wasm EP's is test/e2e/batch.e2e.test.ts). Fails when Chromium is not installed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { completionModel } from '../../src/infer/completion';
import { ChatModel } from '../../src/infer/engine';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { useDevPage } from '../helpers/dev-page';

/** What test/infer/browser/main.ts leaves on the page. */
type EvalPage = Window & {
  __evalResult?: { ep: { ep: string }; text: string; tokens: number; streamed: string; error: unknown };
  __evalError?: string;
};
type BatchPage = EvalPage & {
  __batchResult?: {
    ep: { ep: string }[];
    one: { texts: string[]; streaming: number };
    many: { texts: string[]; streaming: number };
  };
};
const PROMPT = 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';

describe('evaluation worker in Chromium', () => {
  const dev = useDevPage('test/infer/browser/index.html', 'node_modules/.vite-infer-test');
  let expected: { text: string; tokens: number };
  beforeAll(async () => {
    const local = await ChatModel.load(new FsModelFolder('public/models/demo-base'), {
      ep: 'wasm',
      adapter: nodeRuntimeAdapter(),
    });
    const answer = await completionModel(local).complete([{ role: 'user', content: PROMPT }], { maxNewTokens: 16 });
    expected = { text: answer.text, tokens: answer.tokens };
    await local.release();
  }, 300_000);
  it.each(['wasm', 'webgpu'])(
    '%s EP: the same greedy answer as Node, streamed as it was generated',
    { timeout: 300_000 },
    async (ep) => {
      const page = await dev.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${dev.base}/test/infer/browser/index.html?ep=${ep}&n=16`);
      await page.waitForFunction(
        () => (window as EvalPage).__evalResult || (window as EvalPage).__evalError,
        undefined,
        {
          timeout: 280_000,
        },
      );
      const { result, error } = await page.evaluate(() => ({
        result: (window as EvalPage).__evalResult!,
        error: (window as EvalPage).__evalError,
      }));
      expect(error, String(error)).toBeUndefined();
      console.log(`Chromium ${ep}: ${JSON.stringify(result.ep)}`);
      expect(result.ep.ep).toBe(ep);
      expect({ text: result.text, tokens: result.tokens }).toEqual(expected);
      expect(result.streamed.length).toBeGreaterThan(0);
      expect(result.text.startsWith(result.streamed)).toBe(true); // streamed updates are throttled: a prefix
      expect(result.error).toEqual({
        lab: true,
        name: 'InferError',
        code: 'missing-file',
        file: 'no-tokenizer/tokenizer.json',
      });
      expect(errors).toEqual([]);
      await page.close();
    },
  );

  // wasm in the page is covered by test/e2e/batch.e2e.test.ts.
  it.each(['webgpu'])(
    '%s EP: batch 3 in the worker answers 6 problems as batch 1, several streaming at once',
    { timeout: 600_000 },
    async (ep) => {
      const page = await dev.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${dev.base}/test/infer/browser/index.html?ep=${ep}&batch=3&problems=6&n=24`);
      await page.waitForFunction(
        () => (window as BatchPage).__batchResult || (window as BatchPage).__evalError,
        undefined,
        {
          timeout: 580_000,
        },
      );
      const { result, error } = await page.evaluate(() => ({
        result: (window as BatchPage).__batchResult!,
        error: (window as BatchPage).__evalError,
      }));
      expect(error, String(error)).toBeUndefined();
      expect(result.ep.map((r) => r.ep)).toEqual([ep, ep]);
      expect(result.one.texts).toHaveLength(6);
      expect(new Set(result.one.texts).size).toBeGreaterThan(3); // different answers, not one repeated
      expect(result.many.texts).toEqual(result.one.texts);
      expect(result.one.streaming).toBe(1);
      expect(result.many.streaming).toBeGreaterThanOrEqual(2);
      expect(errors).toEqual([]);
      await page.close();
    },
  );
});
