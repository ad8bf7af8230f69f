/**
 * The inference worker: the one inference entry point (src/infer/engine.ts, ChatModel) exposed
 * with comlink. Model files arrive as Files/Blobs or transferred Uint8Arrays; tokens stream
 * through a proxied callback; cancel() stops the running generation between tokens.
 * `createInferWorkerApi` is the whole API, so tests can expose it over a MessageChannel in Node.
 */
import { expose } from 'comlink';
import { MapModelFolder } from '../core/io/byte-source';
import type { ModelSpec } from '../infer/architecture';
import { type AskOptions, type AskResult, ChatModel } from '../infer/engine';
import type { ChatMessage } from '../infer/tokenizer';
import type { EpChoice, EpReport, RuntimeAdapter } from '../infer/runtime';

export interface WorkerLoadRequest {
  name: string;
  /** File name → contents (config.json, *.safetensors [+ index], tokenizer files). */
  files: Record<string, Blob | Uint8Array>;
  ep?: EpChoice;
  /** Where ORT's wasm files are served (`ort.env.wasm.wasmPaths`), e.g. '/ort/'. */
  wasmPaths?: string;
  /** wasm threads; 1 avoids needing cross-origin isolation. */
  threads?: number;
}

export interface WorkerLoadResult {
  name: string;
  spec: ModelSpec;
  /** Which EP runs the model, and why (shown in the UI). */
  ep: EpReport;
}

/** AskOptions minus what cannot cross a worker boundary (the callback and the signal). */
export type WorkerAskOptions = Omit<AskOptions, 'onToken' | 'signal'>;
export type TokenCallback = (token: { id: number; text: string }) => void | Promise<void>;

export function createInferWorkerApi(baseAdapter: RuntimeAdapter = {}) {
  let model: ChatModel | undefined;
  let active: AbortController | undefined;

  return {
    async load(req: WorkerLoadRequest): Promise<WorkerLoadResult> {
      if (active) throw new Error('a generation is running in this worker');
      await model?.release();
      model = undefined;
      const adapter: RuntimeAdapter = {
        ...baseAdapter,
        configure: (env, ep) => {
          baseAdapter.configure?.(env, ep);
          if (req.wasmPaths) env.wasm.wasmPaths = req.wasmPaths;
          if (req.threads) env.wasm.numThreads = req.threads;
        },
      };
      model = await ChatModel.load(new MapModelFolder(req.name, new Map(Object.entries(req.files))), { ep: req.ep ?? 'auto', adapter });
      return { name: req.name, spec: model.lm.spec, ep: model.ep };
    },

    async ask(prompt: string | ChatMessage[], opts: WorkerAskOptions = {}, onToken?: TokenCallback): Promise<AskResult> {
      if (!model) throw new Error('no model loaded: call load() first');
      if (active) throw new Error('a generation is already running in this worker');
      const ac = new AbortController();
      active = ac;
      // Token callbacks are not awaited one by one (generation does not wait for the page), but
      // all of them are delivered before the result: they travel on another port than the reply.
      const delivered: Promise<unknown>[] = [];
      try {
        const result = await model.ask(prompt, {
          ...opts,
          signal: ac.signal,
          ...(onToken ? { onToken: (t: { id: number; text: string }) => void delivered.push(Promise.resolve(onToken(t)).catch(() => undefined)) } : {}),
        });
        await Promise.all(delivered);
        return result;
      } finally {
        active = undefined;
      }
    },

    /** Stops the running generation (it rejects with InferError 'cancelled'). */
    cancel(): void {
      active?.abort();
    },

    async unload(): Promise<void> {
      active?.abort();
      await model?.release();
      model = undefined;
    },
  };
}

export type InferWorkerApi = ReturnType<typeof createInferWorkerApi>;

declare const WorkerGlobalScope: { new (): unknown } | undefined;
if (typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined' && self instanceof WorkerGlobalScope) expose(createInferWorkerApi());
