/**
 * The inference worker's comlink API over a real MessageChannel (Node, wasm EP): load from
 * transferred files, streamed tokens through a proxied callback, cancellation, same answer as
 * the engine in-process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { expose } from 'comlink';
import { afterAll, describe, expect, it } from 'vitest';
import { ChatModel } from '../../src/infer/engine';
import { nodeRuntimeAdapter } from '../../src/infer/node-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { InferClient } from '../../src/workers/infer-client';
import { createInferWorkerApi } from '../../src/workers/infer.worker';

const DEMO = 'public/models/demo-slow'; // answers at length: time to cancel
const PROMPT = 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';

describe('infer worker API (comlink)', () => {
  const { port1, port2 } = new MessageChannel();
  expose(createInferWorkerApi(nodeRuntimeAdapter()), port1 as never);
  const client = new InferClient(port2 as never);
  afterAll(async () => {
    await client.unload();
    client.dispose();
    port1.close();
    port2.close();
  });

  it('loads transferred files, reports the EP, streams the same answer as in-process', async () => {
    const files = Object.fromEntries(readdirSync(DEMO).map((f) => [f, new Uint8Array(readFileSync(`${DEMO}/${f}`))]));
    const weights = files['model.safetensors']!;
    const loaded = await client.load({ name: 'demo-slow', files, ep: 'wasm' });
    expect(weights.byteLength).toBe(0); // transferred, not copied
    expect(loaded.ep).toEqual({ ep: 'wasm', reason: 'requested' });
    expect(loaded.spec.architecture).toBe('Qwen2ForCausalLM');

    const pieces: string[] = [];
    const r = await client.ask(PROMPT, { maxNewTokens: 20, onToken: (t) => void pieces.push(t.text) });
    const local = await ChatModel.load(new FsModelFolder(DEMO), { ep: 'wasm', adapter: nodeRuntimeAdapter() });
    const expected = await local.ask(PROMPT, { maxNewTokens: 20 });
    await local.release();
    expect(r.ids).toEqual(expected.ids);
    expect(pieces.join('')).toBe(r.text);
    expect(r.timings.prefillTokPerS).toBeGreaterThan(0);
  });

  it('cancels through an AbortSignal', async () => {
    const ac = new AbortController();
    let n = 0;
    const err = await client
      .ask(PROMPT, { maxNewTokens: 200, signal: ac.signal, onToken: () => void (++n === 2 && ac.abort()) })
      .catch((e) => e);
    expect(String(err)).toMatch(/cancelled/);
  });
});
