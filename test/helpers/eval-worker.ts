/**
 * The evaluation worker's API behind a real MessageChannel in Node (wasm EP), as the Compare step
 * talks to it through comlink; the channel closes after the calling describe block.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { expose } from 'comlink';
import { afterAll } from 'vitest';
import type { WeightsStore } from '../../src/browser/opfs-weights-cache';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { EvalClient } from '../../src/workers/eval-client';
import { createEvalWorkerApi } from '../../src/workers/eval.worker';

export function useEvalWorker(store?: () => Promise<WeightsStore>): EvalClient {
  const { port1, port2 } = new MessageChannel();
  expose(createEvalWorkerApi(nodeRuntimeAdapter(), store), port1 as never);
  const client = new EvalClient(port2 as never);
  afterAll(() => {
    client.dispose();
    port1.close();
  });
  return client;
}

/** A model folder's files as Blobs, as the page's file picker gives them. */
export const folderBlobs = (dir: string) =>
  new Map(readdirSync(dir).map((f) => [f, new Blob([readFileSync(`${dir}/${f}`)])]));
