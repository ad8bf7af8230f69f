/**
 * The memory plan at load time: before any weight is read or packed and before a session is
 * created, plans the model (./memory-plan.ts) in the chosen weight format for the EP it will run
 * on and the token budget, and refuses with the plan's advice when it does not fit (unless forced).
 * Also the one warning for a budget past max_position_embeddings, shared with generation.
 */
import type { LabWarning } from '../core/errors';
import type { ModelSpec } from './architecture';
import { InferError } from './errors';
import { batchAdvice, largestBatch } from './batch-plan';
import { type MemoryPlan, type PlanModel, type PlanRequest, type PlanTarget, planInferenceMemory } from './memory-plan';
import type { Precision } from './precision';
import { type EpChoice, type EpDecision, type RuntimeAdapter, probeWebGpu } from './runtime';
import { type WeightOptions, defaultKvCache, resolveWeightOptions } from './weight-format';

/** The budget planned for when the caller names none: the model's positions, at most this many. */
export const DEFAULT_LOAD_BUDGET = 4096;

export interface PlanLoadOptions extends WeightOptions {
  ep?: EpChoice;
  adapter?: RuntimeAdapter;
  allLogits?: boolean;
  /** Prompt + new tokens the session must hold; default min(max_position_embeddings, DEFAULT_LOAD_BUDGET). */
  tokenBudget?: number;
  /** Prompt tokens (sizes the activations); default: the plan's own. */
  promptTokens?: number;
  /** Sequences generated together (the batched graph): the KV cache and activations are planned for them. Default 1. */
  batchSize?: number;
  /** How the batch's prompts are prefilled (sizes the activations): one at a time (default) or together. */
  batchPrefill?: 'alone' | 'together';
  /** Load even when the plan says it does not fit (a warning instead of an error). */
  force?: boolean;
  /** The wasm heap to plan against; default 4 GiB. */
  wasmHeapBytes?: number;
  /** The plan, with its one-line summary, before any weight is read. */
  onPlan?: (plan: MemoryPlan, summary: string) => void;
  onWarning?: (warning: LabWarning) => void;
}

export interface LoadPlan {
  readonly plan: MemoryPlan;
  /** What was not checked and why (WebGPU: the device memory, or the limits when unknown). */
  readonly note: string | undefined;
  readonly summary: string;
}

const mb = (bytes: number): string =>
  bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(bytes >= 1e7 ? 0 : 1)} MB`;

/** The loader's decisions, when it made them (EP and adapter, what runs in f16). */
export interface DecidedRuntime {
  readonly decision: EpDecision;
  readonly precision: Precision;
}

/** The target the EP choice will run on: wasm, or WebGPU with the adapter's real limits when known. */
async function planTarget(
  opts: PlanLoadOptions,
  decision?: EpDecision,
): Promise<{ target: PlanTarget; note?: string }> {
  const wasm: PlanTarget = { kind: 'wasm', ...(opts.wasmHeapBytes !== undefined && { heapBytes: opts.wasmHeapBytes }) };
  const choice = opts.ep ?? 'auto';
  if (choice === 'wasm' || decision?.ep === 'wasm') return { target: wasm };
  const probe = decision?.probe ?? (await probeWebGpu(opts.adapter ?? {}));
  // The same decision openSession makes: auto leaves a CPU-emulated or missing adapter for wasm.
  if (choice === 'auto' && (!probe.ok || probe.software)) return { target: wasm };
  const unknownMemory = 'device memory is not reported by WebGPU and is not checked';
  const limits = probe.ok ? probe.limits : undefined;
  const unbounded = Number.POSITIVE_INFINITY;
  return {
    target: {
      kind: 'webgpu',
      maxBufferSize: limits?.maxBufferSize ?? unbounded,
      maxStorageBufferBindingSize: limits?.maxStorageBufferBindingSize ?? unbounded,
      deviceMemoryBytes: unbounded,
    },
    note: limits
      ? unknownMemory
      : `the adapter's limits are unknown, so the binding checks are skipped; ${unknownMemory}`,
  };
}

/** The plan in one line; an f16 KV cache and f16 compute are named (f32 is said by omission). */
export function planSummary(plan: MemoryPlan, target: PlanTarget, note?: string, precision?: Precision): string {
  const c = plan.components;
  const format = plan.format === 'q4' ? `q4 (blocks of ${plan.blockSize})` : plan.format;
  const verdict = plan.fits ? 'fits' : 'does not fit';
  const compute = precision?.compute === 'f16' ? ', f16 compute' : '';
  const kv = plan.kvDtype === 'f16' ? ' in f16' : '';
  return (
    `plan: ${format}${compute} on ${target.kind}: weights ${mb(c.weights.bytes)}, KV cache ${mb(c.kvCache.bytes)}${kv} ` +
    `for ${plan.tokenBudget.toLocaleString('en-US')} tokens, activations ${mb(c.activations.bytes)}; ${verdict}${note ? ` (${note})` : ''}`
  );
}

/** The one warning for a budget past the positions the model was trained on. */
export function positionsWarning(budget: number, maxPositions: number): LabWarning | undefined {
  if (budget <= maxPositions) return undefined;
  return {
    code: 'budget-over-max-positions',
    field: 'max_position_embeddings',
    message:
      `the token budget of ${budget} exceeds the model's max_position_embeddings of ${maxPositions}: ` +
      `generation continues past it, but the model was not trained on those positions, so text may degrade there`,
  };
}

/** The planner's view of a model spec. */
export function planModelOf(spec: ModelSpec): PlanModel {
  return {
    architecture: spec.architecture,
    qkvBias: spec.qkvBias,
    hiddenSize: spec.hidden,
    intermediateSize: spec.intermediate,
    numLayers: spec.layers,
    numHeads: spec.heads,
    numKvHeads: spec.kvHeads,
    headDim: spec.headDim,
    vocabSize: spec.vocab,
    tieWordEmbeddings: spec.tied,
    maxPositionEmbeddings: spec.maxPositions,
  };
}

/** The plan's request for a load: the model, format, budget, KV dtype, batch and the target the EP runs on. */
async function planRequest(
  spec: ModelSpec,
  opts: PlanLoadOptions,
  name?: string,
  decided?: DecidedRuntime,
): Promise<{ request: PlanRequest; note: string | undefined }> {
  const { format, blockSize } = resolveWeightOptions(opts);
  const { target, note } = await planTarget(opts, decided?.decision);
  // The KV dtype is left to the planner's per-format default unless it was chosen (or the EP changed it).
  const kv = decided?.precision.kvCache;
  const kvDtype = opts.kvCache ?? (kv !== undefined && kv !== defaultKvCache(format) ? kv : undefined);
  const request: PlanRequest = {
    model: planModelOf(spec),
    ...(name !== undefined && { name }),
    weights: format,
    blockSize,
    tokenBudget: opts.tokenBudget ?? Math.min(spec.maxPositions, DEFAULT_LOAD_BUDGET),
    ...(opts.promptTokens !== undefined && { promptTokens: opts.promptTokens }),
    allLogits: opts.allLogits ?? false,
    ...(kvDtype && { kvDtype }),
    ...(opts.batchSize !== undefined && { batch: opts.batchSize }),
    ...(opts.batchPrefill && { prefill: opts.batchPrefill }),
    target,
  };
  return { request, note };
}

/** The largest batch of at most `max` sequences the memory plan fits for this load (0: not even one). */
export async function fittingBatch(spec: ModelSpec, opts: PlanLoadOptions, max: number): Promise<number> {
  const { request } = await planRequest(spec, { ...opts, batchSize: max });
  return largestBatch(request);
}

/**
 * Plans the load and refuses when it does not fit: an InferError 'does-not-fit' whose message is
 * the plan's advice. With `force`, the advice becomes a warning and loading goes on. `decided`:
 * the loader's EP decision and precision (else the EP is probed here and the KV dtype is the option's).
 */
export async function checkLoadPlan(
  spec: ModelSpec,
  opts: PlanLoadOptions,
  name?: string,
  decided?: DecidedRuntime,
): Promise<LoadPlan> {
  const { request, note } = await planRequest(spec, opts, name, decided);
  const { target } = request;
  const plan = planInferenceMemory(request);
  const summary = planSummary(plan, target, note, decided?.precision);
  opts.onPlan?.(plan, summary);
  for (const w of plan.warnings) opts.onWarning?.(w);
  if (!plan.fits) {
    const advice = batchAdvice(request, plan.advice!);
    if (!opts.force) throw new InferError('does-not-fit', advice);
    opts.onWarning?.({ code: 'forced-load', message: `loading anyway (forced): ${advice}` });
  }
  return { plan, note, summary };
}
