/**
 * The evaluation worker: loads models (onnxruntime-web, WebGPU EP or wasm) and runs the one
 * evaluation entry point (src/core/eval/run.ts) off the main thread. Responses stream back
 * through proxied callbacks; cancel() stops between tokens (the call rejects with an AbortError).
 * Errors reach the page as LabErrors with their code and file (./errors.ts).
 * Models load in a weight format (f32, f16, q4) after the memory plan; `planFormats` gives the
 * page the plan of every format for its models, since the UI does not import the engine.
 * `createEvalWorkerApi` is the whole API, so tests can expose it over a MessageChannel in Node.
 */
import { expose } from 'comlink';
import { browserRuntimeAdapter } from '../browser/ort-adapter';
import { MapModelFolder } from '../core/io/byte-source';
import { type ProblemFormat, parseProblemSet } from '../core/eval/problem-set';
import type { ResponseRecord } from '../core/eval/metrics';
import { type EvalRun, type PromptStyle, evaluate } from '../core/eval/run';
import { Checkpoint } from '../core/formats/checkpoint';
import { completionModel } from '../infer/completion';
import { calibrate, calibrationMessages } from '../infer/calibrate';
import type { ActivationStats } from '../core/merge/activation-stats';
import { ChatModel } from '../infer/engine';
import { checkLoadPlan, planModelOf } from '../infer/load-plan';
import { type MemoryPlan, PLAN_FORMATS, countParameters } from '../infer/memory-plan';
import { specOf } from '../infer/model';
import type { EpChoice, EpReport, RuntimeAdapter } from '../infer/runtime';
import type { WeightOptions } from '../infer/weight-format';
import { installLabErrorTransfer } from './errors';

export interface EvalRequest {
  models: { name: string; prompt?: PromptStyle }[];
  setText: string;
  setName: string;
  format?: ProblemFormat | 'auto';
  limit?: number;
  maxNewTokens: number;
}

/** How a model is loaded: weight format, q4 block size, the token budget the plan checks, the wasm heap. */
export interface ModelLoadOptions extends WeightOptions {
  tokenBudget?: number;
  wasmHeapBytes?: number;
}

/** The plan a model was loaded with (the format each run used). */
export interface LoadedFormat {
  readonly format: MemoryPlan['format'];
  readonly blockSize: MemoryPlan['blockSize'];
  readonly summary: string;
}

/** The plans of every weight format for the largest of some models, on the target an EP choice runs on. */
export interface FormatPlans {
  readonly model: string;
  readonly target: 'wasm' | 'webgpu';
  readonly note: string | undefined;
  readonly plans: readonly MemoryPlan[];
}

export interface EvalCallbacks {
  onProgress?: (p: { done: number; total: number; model: string; problem: string }) => void;
  onResponse?: (model: string, r: ResponseRecord) => void;
  onText?: (model: string, problemId: string, text: string) => void;
}

export function createEvalWorkerApi(adapter: RuntimeAdapter = browserRuntimeAdapter()) {
  const loaded = new Map<string, ChatModel>();
  let active: AbortController | undefined;
  return {
    /**
     * Loads (or reloads) a model from its files in a weight format; returns which execution
     * provider runs it, and why. A model that does not fit is refused (InferError 'does-not-fit').
     */
    async load(
      name: string,
      files: Record<string, Blob>,
      ep: EpChoice = 'auto',
      opts: ModelLoadOptions = {},
    ): Promise<EpReport> {
      await loaded.get(name)?.release();
      loaded.delete(name);
      const folder = new MapModelFolder(name, new Map(Object.entries(files)));
      const chat = await ChatModel.load(folder, { ep, adapter, ...opts });
      loaded.set(name, chat);
      return chat.ep;
    },

    /** The weight format and plan a loaded model runs with. */
    loadedFormat(name: string): LoadedFormat | undefined {
      const plan = loaded.get(name)?.lm.plan;
      return plan && { format: plan.plan.format, blockSize: plan.plan.blockSize, summary: plan.summary };
    },

    /** Plans f32, f16 and q4 for the largest of the models (headers only), without loading anything. */
    async planFormats(
      models: Record<string, Blob>[],
      ep: EpChoice,
      opts: Omit<ModelLoadOptions, 'weights'> & { names?: string[] } = {},
    ): Promise<FormatPlans | undefined> {
      let largest: { name: string; spec: ReturnType<typeof specOf>; params: number } | undefined;
      for (const [i, files] of models.entries()) {
        const name = opts.names?.[i] ?? `model ${i + 1}`;
        const spec = specOf(await Checkpoint.open(new MapModelFolder(name, new Map(Object.entries(files)))));
        const params = countParameters(planModelOf(spec));
        if (!largest || params > largest.params) largest = { name, spec, params };
      }
      if (!largest) return undefined;
      const { blockSize, tokenBudget, wasmHeapBytes } = opts;
      const plans = [];
      for (const weights of PLAN_FORMATS)
        plans.push(
          await checkLoadPlan(
            largest.spec,
            { ep, adapter, weights, force: true, blockSize, tokenBudget, wasmHeapBytes },
            largest.name,
          ),
        );
      const first = plans[0]!;
      return {
        model: largest.name,
        target: first.plan.checks.some((c) => c.id.startsWith('wasm-')) ? 'wasm' : 'webgpu',
        note: first.note,
        plans: plans.map((p) => p.plan),
      };
    },

    async unload(name: string): Promise<void> {
      await loaded.get(name)?.release();
      loaded.delete(name);
    },

    async evaluate(
      req: EvalRequest,
      onProgress?: EvalCallbacks['onProgress'],
      onResponse?: EvalCallbacks['onResponse'],
      onText?: EvalCallbacks['onText'],
    ): Promise<EvalRun> {
      if (active) throw new Error('an evaluation is already running in this worker');
      active = new AbortController();
      try {
        const set = parseProblemSet(req.setText, req.setName, { format: req.format ?? 'auto' });
        const entries = req.models.map((m) => {
          const chat = loaded.get(m.name);
          if (!chat) throw new Error(`model '${m.name}' is not loaded in the evaluation worker`);
          return { model: completionModel(chat, m.name), ...(m.prompt ? { prompt: m.prompt } : {}) };
        });
        let lastText = 0;
        return await evaluate(entries, set, {
          maxNewTokens: req.maxNewTokens,
          signal: active.signal,
          ...(req.limit !== undefined ? { limit: req.limit } : {}),
          ...(onProgress ? { onProgress: (p) => void Promise.resolve(onProgress(p)).catch(() => undefined) } : {}),
          ...(onResponse
            ? { onResponse: (m, r) => void Promise.resolve(onResponse(m, r)).catch(() => undefined) }
            : {}),
          ...(onText
            ? {
                onText: (m, id, text) => {
                  const t = Date.now();
                  if (t - lastText < 60) return; // ~16 updates a second is plenty for reading
                  lastText = t;
                  void Promise.resolve(onText(m, id, text)).catch(() => undefined);
                },
              }
            : {}),
        });
      } finally {
        active = undefined;
      }
    },

    /** AIM calibration of a (base) model on short answers from a problem set. */
    async calibrate(
      name: string,
      files: Record<string, Blob>,
      setText: string,
      setName: string,
      samples: number,
      onProgress?: (done: number, total: number) => void,
    ): Promise<ActivationStats> {
      if (active) throw new Error('the evaluation worker is busy');
      active = new AbortController();
      try {
        const set = parseProblemSet(setText, setName);
        return await calibrate(
          new MapModelFolder(name, new Map(Object.entries(files))),
          calibrationMessages(set, samples),
          setName,
          {
            adapter,
            signal: active.signal,
            ...(onProgress
              ? { onProgress: (d: number, n: number) => void Promise.resolve(onProgress(d, n)).catch(() => undefined) }
              : {}),
          },
        );
      } finally {
        active = undefined;
      }
    },

    cancel(): void {
      active?.abort();
    },
  };
}

export type EvalWorkerApi = ReturnType<typeof createEvalWorkerApi>;

installLabErrorTransfer();
declare const WorkerGlobalScope: { new (): unknown } | undefined;
if (typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined' && self instanceof WorkerGlobalScope)
  expose(createEvalWorkerApi());
