/**
 * The evaluation worker: loads models (onnxruntime-web, WebGPU EP or wasm) and runs the one
 * evaluation entry point (src/core/eval/run.ts) off the main thread. Responses stream back
 * through proxied callbacks; cancel() stops between tokens (the call rejects with an AbortError).
 * Errors reach the page as LabErrors with their code and file (./errors.ts).
 * Models load in a weight format (f32, f16, q4) after the memory plan, planned with the token
 * budget the evaluation will need (its longest prompt + max new tokens); `planFormats` gives the
 * page the plan of every format for its models, since the UI does not import the engine. f16 / q4
 * weights come from the OPFS cache when a previous load packed them (../browser/cached-weights.ts),
 * else they are packed with progress and cancel and cached; `loadedFormat` says which.
 * Batched evaluation: a model loaded with `batchSize` B > 1 runs the batched graph (planned for B
 * sequences); an evaluation with `batch` > 1 answers up to that many problems at once through the
 * same entry point as `merge-lab eval --batch` (continuous batching), every sequence's text
 * streaming as it grows, records in the problems' order; cancel() stops the whole batch.
 * A resumed evaluation hands in the responses that finished before; only the other problems run.
 * `createEvalWorkerApi` is the whole API, so tests can expose it over a MessageChannel in Node.
 */
import { expose } from 'comlink';
import type { LoadStage, WeightsSource } from '../browser/cached-weights';
import { OpfsWeightsCache, type WeightsStore } from '../browser/opfs-weights-cache';
import { type PackerChoice, gpuPacker } from './gpu-packer';
import { browserRuntimeAdapter } from '../browser/ort-adapter';
import { type LabWarning, throwIfAborted } from '../core/errors';
import { MapModelFolder, type ModelFolder } from '../core/io/byte-source';
import { type ProblemFormat, parseProblemSet } from '../core/eval/problem-set';
import type { ResponseRecord } from '../core/eval/metrics';
import { type EvalRun, type PromptStyle, evaluate } from '../core/eval/run';
import { Checkpoint } from '../core/formats/checkpoint';
import { BatchChatModel } from '../infer/batch-chat';
import { MAX_AUTO_BATCH } from '../infer/batch-plan';
import { completionModel } from '../infer/completion';
import { calibrate, calibrationMessages } from '../infer/calibrate';
import type { ActivationStats } from '../core/merge/activation-stats';
import { evalTokenBudget } from '../infer/eval-budget';
import { checkLoadPlan, fittingBatch, planModelOf } from '../infer/load-plan';
import { type MemoryPlan, PLAN_FORMATS, countParameters } from '../infer/memory-plan';
import { specOf } from '../infer/model';
import type { EpChoice, EpReport, RuntimeAdapter } from '../infer/runtime';
import { ChatTokenizer } from '../infer/tokenizer';
import type { WeightOptions } from '../infer/weight-format';
import { installLabErrorTransfer } from './errors';
import { type LoadedChat, loadChat } from './load-chat';
import type { EvalFault } from './merge-faults';
import { recordedCompletions, resumingModel } from './resume-model';
import { holdLifeLock } from './worker-life';

export interface EvalRequest {
  models: { name: string; prompt?: PromptStyle }[];
  setText: string;
  setName: string;
  format?: ProblemFormat | 'auto';
  limit?: number;
  maxNewTokens: number;
  /** Problems answered at once per model (continuous batching); > 1 needs models loaded with a `batchSize` at least this. Default 1. */
  batch?: number;
  /** Resuming an interrupted evaluation: each model's responses already finished (those problems are not run again). */
  finished?: Record<string, readonly ResponseRecord[]>;
  /** A fault to inject (end-to-end tests only; see merge-faults.ts). */
  fault?: EvalFault;
}

/** The evaluation a load is planned for: the prompts it will read and the new tokens it allows. */
export interface PlannedEval {
  setText: string;
  setName: string;
  format?: ProblemFormat | 'auto';
  limit?: number;
  maxNewTokens: number;
  prompt?: PromptStyle;
}

/**
 * How a model is loaded: weight format, q4 block size, the token budget the plan checks (given,
 * or the one `plannedEval` needs), `force` (load even when the plan says it does not fit), the wasm heap.
 */
export interface ModelLoadOptions extends WeightOptions {
  /** q4 packing for the cache: the WGSL kernel on this GPU (auto: on a hardware adapter) or the CPU spec. */
  packer?: PackerChoice;
  tokenBudget?: number;
  plannedEval?: PlannedEval;
  force?: boolean;
  wasmHeapBytes?: number;
  /** Sequences answered together: > 1 loads the batched graph, its KV cache planned for this many. */
  batchSize?: number;
}

/** Progress of a load: hashing the checkpoint (bytes), packing (tensors), writing the cache. */
export interface LoadProgress {
  stage: LoadStage;
  done: number;
  total: number;
}

/** The plan a model was loaded with (the format each run used), and where its weights came from. */
export interface LoadedFormat {
  readonly format: MemoryPlan['format'];
  readonly blockSize: MemoryPlan['blockSize'];
  readonly tokenBudget: number;
  readonly summary: string;
  /** f32: the checkpoint; f16 / q4: the OPFS cache, or packed at this load. */
  readonly weights: WeightsSource;
  /** Packed weights were written to the cache for the next load. */
  readonly cached: boolean;
  readonly warnings: readonly LabWarning[];
}

/** The plans of every weight format for the largest of some models, on the target an EP choice runs on. */
export interface FormatPlans {
  readonly model: string;
  readonly target: 'wasm' | 'webgpu';
  readonly note: string | undefined;
  readonly plans: readonly MemoryPlan[];
  /** Per format (as `plans`), the largest batch up to MAX_PLANNED_BATCH that fits (0: not even one). */
  readonly batches: readonly number[];
  /** MAX_PLANNED_BATCH: the most `batches` gives. */
  readonly maxBatch: number;
}

/** The most sequences the page's Batch "auto" takes: the same cap as `merge-lab eval --batch auto`. */
export const MAX_PLANNED_BATCH = MAX_AUTO_BATCH;

export interface EvalCallbacks {
  onProgress?: (p: { done: number; total: number; model: string; problem: string }) => void;
  onResponse?: (model: string, r: ResponseRecord) => void;
  onText?: (model: string, problemId: string, text: string) => void;
}

/** The prompt tokens and budget an evaluation needs, tokenized by the model's own tokenizer. */
async function budgetOf(
  tokenizer: ChatTokenizer | ModelFolder,
  e: PlannedEval,
): Promise<{ promptTokens: number; tokenBudget: number }> {
  let tok = tokenizer;
  if (!(tok instanceof ChatTokenizer)) {
    const ckpt = await Checkpoint.open(tok, { requireConfig: true });
    tok = await ChatTokenizer.load(tok, ckpt.config!.raw);
  }
  const set = parseProblemSet(e.setText, e.setName, { format: e.format ?? 'auto' });
  return evalTokenBudget(tok, {
    set,
    maxNewTokens: e.maxNewTokens,
    ...(e.limit !== undefined && { limit: e.limit }),
    ...(e.prompt && { prompt: e.prompt }),
  });
}

/** `store`: the cache of packed weights (default the page's OPFS; Node tests have none, or give one). */
export function createEvalWorkerApi(
  adapter: RuntimeAdapter = browserRuntimeAdapter(),
  store: () => Promise<WeightsStore> = () => OpfsWeightsCache.open(),
) {
  const loaded = new Map<
    string,
    { chat: LoadedChat; batch: number; weights: WeightsSource; cached: boolean; warnings: LabWarning[] }
  >();
  let active: AbortController | undefined;
  const loads = new Set<AbortController>();
  return {
    /** Holds the worker's life lock (worker-life.ts) until it ends; resolves once held. */
    holdLifeLock(name: string): Promise<boolean> {
      return holdLifeLock(name);
    },

    /**
     * Loads (or reloads) a model from its files in a weight format; returns which execution
     * provider runs it, and why. A model that does not fit is refused (InferError 'does-not-fit')
     * unless forced; f16 / q4 weights come from the OPFS cache or are packed (and cached).
     * cancel() stops a load (it rejects with an AbortError).
     */
    async load(
      name: string,
      files: Record<string, Blob>,
      ep: EpChoice = 'auto',
      opts: ModelLoadOptions = {},
      onProgress?: (p: LoadProgress) => void,
    ): Promise<EpReport> {
      await loaded.get(name)?.chat.release();
      loaded.delete(name);
      const folder = new MapModelFolder(name, new Map(Object.entries(files)));
      const ac = new AbortController();
      loads.add(ac);
      try {
        const { plannedEval, packer: packerChoice = 'auto', ...rest } = opts;
        const budget = plannedEval && rest.tokenBudget === undefined ? await budgetOf(folder, plannedEval) : {};
        const warnings: LabWarning[] = [];
        const base = { ep, adapter, ...rest, ...budget, signal: ac.signal };
        let last = 0;
        const progress = (stage: LoadStage, done: number, total: number) => {
          const t = Date.now();
          if (done < total && t - last < 100) return; // ~10 updates a second while hashing GBs
          last = t;
          void Promise.resolve(onProgress?.({ stage, done, total })).catch(() => undefined);
        };
        const onWarning = (w: LabWarning) => void warnings.push(w);
        const packer = rest.weights === 'q4' ? await gpuPacker(packerChoice, adapter, ac.signal) : undefined;
        const { chat, source, cached } = await loadChat(folder, {
          ...base,
          store,
          onProgress: progress,
          onWarning,
          ...(packer && { packQ4: packer.packQ4 }),
        }).finally(() => packer?.dispose());
        if (ac.signal.aborted) {
          // Cancelled while the session was being created (that step cannot stop midway).
          await chat.release();
          throwIfAborted(ac.signal, 'loading');
        }
        loaded.set(name, { chat, batch: Math.max(1, rest.batchSize ?? 1), weights: source, cached, warnings });
        return chat.lm.ep;
      } finally {
        loads.delete(ac);
      }
    },

    /** The weight format and plan a loaded model runs with, and where its weights came from. */
    loadedFormat(name: string): LoadedFormat | undefined {
      const m = loaded.get(name);
      if (!m) return undefined;
      const { plan, summary } = m.chat.lm.plan;
      return {
        format: plan.format,
        blockSize: plan.blockSize,
        tokenBudget: plan.tokenBudget,
        summary,
        weights: m.weights,
        cached: m.cached,
        warnings: m.warnings,
      };
    },

    /** The token budget an evaluation needs with a loaded model (longest prompt + max new tokens). */
    async tokenBudget(name: string, e: PlannedEval): Promise<number | undefined> {
      const m = loaded.get(name);
      return m && (await budgetOf(m.chat.tokenizer, e)).tokenBudget;
    },

    /** Plans f32, f16 and q4 for the largest of the models (headers only, `batchSize` sequences), without loading anything. */
    async planFormats(
      models: Record<string, Blob>[],
      ep: EpChoice,
      opts: Omit<ModelLoadOptions, 'weights' | 'force'> & { names?: string[] } = {},
    ): Promise<FormatPlans | undefined> {
      let largest: { folder: ModelFolder; spec: ReturnType<typeof specOf>; params: number } | undefined;
      for (const [i, files] of models.entries()) {
        const folder = new MapModelFolder(opts.names?.[i] ?? `model ${i + 1}`, new Map(Object.entries(files)));
        const spec = specOf(await Checkpoint.open(folder));
        const params = countParameters(planModelOf(spec));
        if (!largest || params > largest.params) largest = { folder, spec, params };
      }
      if (!largest) return undefined;
      const { blockSize, wasmHeapBytes, plannedEval, batchSize } = opts;
      const budget =
        plannedEval && opts.tokenBudget === undefined
          ? await budgetOf(largest.folder, plannedEval)
          : { tokenBudget: opts.tokenBudget };
      const plans = [];
      for (const weights of PLAN_FORMATS)
        plans.push(
          await checkLoadPlan(
            largest.spec,
            { ep, adapter, weights, force: true, blockSize, wasmHeapBytes, batchSize, ...budget },
            largest.folder.name,
          ),
        );
      const batches = [];
      for (const weights of PLAN_FORMATS)
        batches.push(
          await fittingBatch(
            largest.spec,
            { ep, adapter, weights, blockSize, wasmHeapBytes, ...budget },
            MAX_PLANNED_BATCH,
          ),
        );
      const first = plans[0]!;
      return {
        model: largest.folder.name,
        target: first.plan.checks.some((c) => c.id.startsWith('wasm-')) ? 'wasm' : 'webgpu',
        note: first.note,
        plans: plans.map((p) => p.plan),
        batches,
        maxBatch: MAX_PLANNED_BATCH,
      };
    },

    async unload(name: string): Promise<void> {
      await loaded.get(name)?.chat.release();
      loaded.delete(name);
    },

    async evaluate(
      req: EvalRequest,
      onProgress?: EvalCallbacks['onProgress'],
      onResponse?: EvalCallbacks['onResponse'],
      onText?: EvalCallbacks['onText'],
      cancelFlag?: Int32Array,
    ): Promise<EvalRun> {
      if (active) throw new Error('an evaluation is already running in this worker');
      const ac = (active = new AbortController());
      // A cancel message can wait behind the generation loop's yields (scheduler.yield in a
      // browser worker); the page's shared flag is read at every token instead.
      const cancelled = () => {
        if (cancelFlag && Atomics.load(cancelFlag, 0) !== 0) ac.abort();
      };
      try {
        const batch = req.batch ?? 1;
        if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be an integer ≥ 1 (got ${batch})`);
        const set = parseProblemSet(req.setText, req.setName, { format: req.format ?? 'auto' });
        const heldOut = Math.max(0, ...req.models.map((m) => m.prompt?.fewShot ?? 0)); // as evaluate() holds them out
        const entries = req.models.map((m) => {
          const l = loaded.get(m.name);
          if (!l) throw new Error(`model '${m.name}' is not loaded in the evaluation worker`);
          if (batch > l.batch)
            throw new RangeError(`model '${m.name}' was loaded for batch ${l.batch}: load it with batchSize ${batch}`);
          const model =
            l.chat instanceof BatchChatModel ? l.chat.completionModel(m.name, batch) : completionModel(l.chat, m.name);
          const recorded = recordedCompletions(set.problems, heldOut, m.prompt, req.finished?.[m.name] ?? []);
          return { model: resumingModel(model, recorded), ...(m.prompt ? { prompt: m.prompt } : {}) };
        });
        // Throttled per response: in a batch several grow at once, and each keeps streaming.
        const lastText = new Map<string, number>();
        let responses = 0;
        return await evaluate(entries, set, {
          maxNewTokens: req.maxNewTokens,
          batched: batch > 1,
          signal: active.signal,
          ...(req.limit !== undefined ? { limit: req.limit } : {}),
          ...(onProgress ? { onProgress: (p) => void Promise.resolve(onProgress(p)).catch(() => undefined) } : {}),
          ...(onResponse || req.fault
            ? {
                onResponse: (m, r) => {
                  void Promise.resolve(onResponse?.(m, r)).catch(() => undefined);
                  if (req.fault && ++responses >= req.fault.after) (self as unknown as { close(): void }).close();
                },
              }
            : {}),
          ...(onText || cancelFlag
            ? {
                onText: (m, id, text) => {
                  cancelled();
                  if (!onText) return;
                  const t = Date.now();
                  const key = `${m}\n${id}`;
                  if (t - (lastText.get(key) ?? -Infinity) < 60) return; // ~16 updates a second is plenty for reading
                  lastText.set(key, t);
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
            batchSize: 'auto', // as `merge-lab calibrate`: the plan's largest batch, up to 8 examples at once
            ...(onProgress
              ? { onProgress: (d: number, n: number) => void Promise.resolve(onProgress(d, n)).catch(() => undefined) }
              : {}),
          },
        );
      } finally {
        active = undefined;
      }
    },

    /** Stops the evaluation or calibration running, and any load. */
    cancel(): void {
      active?.abort();
      for (const ac of loads) ac.abort();
    },
  };
}

export type EvalWorkerApi = ReturnType<typeof createEvalWorkerApi>;

installLabErrorTransfer();
declare const WorkerGlobalScope: { new (): unknown } | undefined;
if (typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined' && self instanceof WorkerGlobalScope)
  expose(createEvalWorkerApi());
