/**
 * The memory plan: before a session is created, the bytes a model needs for inference (weights,
 * KV cache, activations) in a weight format, for a batch and a token budget, checked against the
 * target's limits; when it does not fit, one sentence naming the largest format (f32 > f16 > q4)
 * and token budget that would. Pure TypeScript (no onnxruntime, DOM or Node): runs in a worker,
 * in Node and in tests.
 *
 * Bytes per weight (as ./graph-weights.ts stores them):
 *   f32  4 for every tensor
 *   f16  2 for the matrices (projections, embedding, lm_head); norms and biases stay f32
 *   q4   linear projections and the embedding as 4-bit blocks: packed [N, ⌈K/B⌉, B/2] uint8
 *        (0.5 byte/weight) plus one f32 scale per block of B; a tied lm_head reads the embedding's
 *        bytes (the runtime holds a second copy of the packed part); norms and biases stay f32
 *
 * Targets and the factors chosen:
 *   wasm    one 4 GiB heap. Two moments are checked. Session creation: 2 × the weights, because ORT
 *           copies each external initializer into the heap and its CPU kernels then prepack or
 *           convert the constant weights (Gemm, MatMulNBits, folded Casts) before the originals
 *           are released; this agrees with what was measured here (the 0.5B shape in f32, 1.98 GB,
 *           loads; the 1.5B shape, 6.2 GB, fails with bad_alloc). Generation: the weights once,
 *           the KV cache twice (a step's past and present caches coexist) and the activations.
 *           Both add WASM_OVERHEAD_BYTES for ORT's code, arena and fragmentation.
 *   webgpu  the caller passes the adapter's real limits and an estimate of device memory. The
 *           largest weight tensor, one layer's KV tensor and the largest activation must each fit
 *           one storage binding (min of maxStorageBufferBindingSize and maxBufferSize); weights +
 *           2 × KV cache + activations + DEVICE_RESERVE_BYTES must fit the device memory.
 * Activations are f32 (conservative where the EP computes in f16): for one layer of the prefill
 * (S = prompt tokens) the hidden-sized buffers, q/k/v, the three [S, I] MLP buffers, the attention
 * probabilities [nH, S, S] and the logits ([1, V], or [S, V] with allLogits); with a batch, the
 * larger of the prefill and a decode step of B rows (./activation-plan.ts).
 */
import type { LabWarning } from '../core/errors';
import type { ModelConfig } from '../core/formats/model-config';
import type { Q4BlockSize } from '../core/kernels/q4-pack';
import { InferError } from './errors';
import { type TensorBytes, activationTerm } from './activation-plan';
import { kvCacheTerm, planKvDtype } from './kv-plan';

export const PLAN_FORMATS = ['f32', 'f16', 'q4'] as const;
export type PlanWeightFormat = (typeof PLAN_FORMATS)[number];
export type KvDtype = 'f32' | 'f16';

export const GIB = 2 ** 30;
export const WASM_HEAP_BYTES = 4 * GIB;
/** Session creation holds each weight twice in the wasm heap (see the file comment). */
export const WASM_SESSION_PEAK_FACTOR = 2;
export const WASM_OVERHEAD_BYTES = 256 * 2 ** 20;
/** ORT WebGPU's upload staging and buffer-cache rounding. */
export const DEVICE_RESERVE_BYTES = 256 * 2 ** 20;
/** Prompt length assumed for activations when the caller does not know it. */
export const DEFAULT_PROMPT_TOKENS = 1024;

/** The config.json fields the plan reads (a parsed ModelConfig has them all). */
export type { TensorBytes } from './activation-plan';

export type PlanModel = Pick<
  ModelConfig,
  | 'hiddenSize'
  | 'intermediateSize'
  | 'numLayers'
  | 'numHeads'
  | 'numKvHeads'
  | 'headDim'
  | 'vocabSize'
  | 'tieWordEmbeddings'
  | 'maxPositionEmbeddings'
> & {
  readonly architecture?: string;
  /** q/k/v biases; default: true for Qwen2ForCausalLM. */
  readonly qkvBias?: boolean;
};

export type PlanTarget =
  | { readonly kind: 'wasm'; readonly heapBytes?: number }
  | {
      readonly kind: 'webgpu';
      readonly maxBufferSize: number;
      readonly maxStorageBufferBindingSize: number;
      readonly deviceMemoryBytes: number;
    };

export interface PlanRequest {
  readonly model: PlanModel;
  /** Used in sentences, e.g. 'Qwen2.5-1.5B-shaped'; default '<n>B-parameter'. */
  readonly name?: string;
  readonly weights: PlanWeightFormat;
  /** q4 block size; default 32. */
  readonly blockSize?: Q4BlockSize;
  /** Default 1. */
  readonly batch?: number;
  /** Prompt + new tokens. */
  readonly tokenBudget: number;
  /** Default min(tokenBudget, DEFAULT_PROMPT_TOKENS). */
  readonly promptTokens?: number;
  /** Default: f32 for f32 weights, f16 for f16 and q4 (the loader's defaults, ./kv-plan.ts). */
  readonly kvDtype?: KvDtype;
  readonly allLogits?: boolean;
  /** How a batch's prompts are prefilled: one at a time (default, as batchGenerate) or all together. */
  readonly prefill?: 'alone' | 'together';
  readonly target: PlanTarget;
}

export interface PlanComponents {
  readonly weights: { readonly bytes: number; readonly parameters: number; readonly largest: TensorBytes };
  /** The whole cache at the full budget, once; `perLayer` is one layer's key (or value) tensor. */
  readonly kvCache: { readonly bytes: number; readonly perLayer: TensorBytes };
  readonly activations: { readonly bytes: number; readonly largest: TensorBytes };
}

export type PlanCheckId =
  | 'wasm-session-peak'
  | 'wasm-generation-peak'
  | 'device-memory'
  | 'weight-binding'
  | 'kv-binding'
  | 'activation-binding';

export interface PlanCheck {
  readonly id: PlanCheckId;
  readonly component: 'weights' | 'kv-cache' | 'activations' | 'total';
  readonly needBytes: number;
  readonly limitBytes: number;
  readonly fits: boolean;
  /** What is measured against what, in words, e.g. "… weights need 6.2 GB in f32 …, over wasm's 4 GiB heap". */
  readonly what: string;
}

export interface MemoryPlan {
  readonly format: PlanWeightFormat;
  readonly blockSize: Q4BlockSize;
  readonly tokenBudget: number;
  readonly promptTokens: number;
  readonly kvDtype: KvDtype;
  readonly components: PlanComponents;
  readonly checks: readonly PlanCheck[];
  readonly fits: boolean;
  /** When it does not fit: one sentence naming the largest format and token budget that would. */
  readonly advice: string | undefined;
  readonly warnings: readonly LabWarning[];
}

interface Resolved {
  readonly m: PlanModel;
  readonly name: string;
  readonly format: PlanWeightFormat;
  readonly blockSize: Q4BlockSize;
  readonly batch: number;
  readonly tokens: number;
  readonly prompt: number;
  readonly kvAsked: KvDtype | undefined;
  readonly allLogits: boolean;
  readonly prefill: 'alone' | 'together';
  readonly target: PlanTarget;
}

// ------------------------------------------------------------------ components

/** Logical parameter count (a tied lm_head counted once). */
export function countParameters(m: PlanModel): number {
  const H = m.hiddenSize;
  const q = m.numHeads * m.headDim;
  const kv = m.numKvHeads * m.headDim;
  const bias = qkvBias(m) ? q + 2 * kv : 0;
  const layer = H * q * 2 + H * kv * 2 + 3 * H * m.intermediateSize + bias + 2 * H;
  return m.numLayers * layer + H + m.vocabSize * H * (m.tieWordEmbeddings ? 1 : 2);
}

const qkvBias = (m: PlanModel): boolean => m.qkvBias ?? m.architecture === 'Qwen2ForCausalLM';

/** Bytes of one [N, K] linear weight in a format, and of its largest single buffer. */
function linearBytes(n: number, k: number, format: PlanWeightFormat, block: number): { all: number; buffer: number } {
  if (format !== 'q4') return { all: n * k * (format === 'f32' ? 4 : 2), buffer: n * k * (format === 'f32' ? 4 : 2) };
  const blocks = Math.ceil(k / block);
  const packed = n * blocks * (block / 2);
  return { all: packed + n * blocks * 4, buffer: packed };
}

function weightComponent(r: Resolved): PlanComponents['weights'] {
  const { m, format, blockSize } = r;
  const H = m.hiddenSize;
  const I = m.intermediateSize;
  const q = m.numHeads * m.headDim;
  const kv = m.numKvHeads * m.headDim;
  const linears: [string, number, number][] = [
    ['self_attn.q_proj', q, H],
    ['self_attn.k_proj', kv, H],
    ['self_attn.v_proj', kv, H],
    ['self_attn.o_proj', H, q],
    ['mlp.gate_proj', I, H],
    ['mlp.up_proj', I, H],
    ['mlp.down_proj', H, I],
  ];
  const dtype = format === 'q4' ? '4-bit packed' : format;
  let largest: TensorBytes = { name: '', bytes: 0 };
  const see = (name: string, bytes: number, as = dtype) =>
    void (bytes > largest.bytes && (largest = { name, bytes, dtype: as }));
  let layer = (2 * H + (qkvBias(m) ? q + 2 * kv : 0)) * 4; // norms and biases, f32
  for (const [name, n, k] of linears) {
    const b = linearBytes(n, k, format, blockSize);
    layer += b.all;
    see(`model.layers.*.${name}.weight`, b.buffer);
  }
  const embed = linearBytes(m.vocabSize, H, format, blockSize);
  see('model.embed_tokens.weight', embed.buffer);
  let bytes = m.numLayers * layer + H * 4 + embed.all;
  // Untied: its own lm_head. Tied q4: the runtime holds the head's MatMulNBits copy of the packed bytes.
  if (!m.tieWordEmbeddings) bytes += embed.all;
  else if (format === 'q4') bytes += embed.buffer;
  return { bytes, parameters: countParameters(m), largest };
}

const kvComponent = (r: Resolved) => kvCacheTerm(r.m, r.batch, r.tokens, planKvDtype(r.format, r.kvAsked));

const activationComponent = (r: Resolved): PlanComponents['activations'] =>
  activationTerm(r.m, { ...r, prefillTogether: r.prefill === 'together' });

// ------------------------------------------------------------------ checks

const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(bytes < 1e8 ? 2 : 1)} GB`;
const limit = (bytes: number): string => (bytes % GIB === 0 ? `${bytes / GIB} GiB` : gb(bytes));
const count = (n: number): string => n.toLocaleString('en-US');

function check(id: PlanCheckId, component: PlanCheck['component'], need: number, lim: number, what: string): PlanCheck {
  return { id, component, needBytes: need, limitBytes: lim, fits: need <= lim, what };
}

function checks(r: Resolved, c: PlanComponents): PlanCheck[] {
  const w = c.weights.bytes;
  const generation = w + 2 * c.kvCache.bytes + c.activations.bytes;
  const parts = `weights ${gb(w)}, KV cache ${gb(2 * c.kvCache.bytes)}, activations ${gb(c.activations.bytes)}`;
  const t = r.target;
  if (t.kind === 'wasm') {
    const heap = t.heapBytes ?? WASM_HEAP_BYTES;
    const session = WASM_SESSION_PEAK_FACTOR * w + WASM_OVERHEAD_BYTES;
    const over = `over wasm's ${limit(heap)} heap`;
    return [
      check(
        'wasm-session-peak',
        'weights',
        session,
        heap,
        `${r.name} weights need ${gb(w)} in ${r.format} (${gb(session)} while the session is created), ${over}`,
      ),
      check(
        'wasm-generation-peak',
        'total',
        generation + WASM_OVERHEAD_BYTES,
        heap,
        `${r.name} in ${r.format} needs ${gb(generation + WASM_OVERHEAD_BYTES)} for ${count(r.tokens)} tokens (${parts}), ${over}`,
      ),
    ];
  }
  const binding = Math.min(t.maxStorageBufferBindingSize, t.maxBufferSize);
  const bindingName = `the adapter's ${limit(binding)} storage-binding limit`;
  const { largest } = c.weights;
  return [
    check(
      'device-memory',
      'total',
      generation + DEVICE_RESERVE_BYTES,
      t.deviceMemoryBytes,
      `${r.name} in ${r.format} needs ${gb(generation + DEVICE_RESERVE_BYTES)} of device memory for ${count(r.tokens)} tokens (${parts}), over the ${gb(t.deviceMemoryBytes)} available`,
    ),
    check(
      'weight-binding',
      'weights',
      largest.bytes,
      binding,
      `${largest.name} takes ${gb(largest.bytes)} in ${largest.dtype}, over ${bindingName}`,
    ),
    check(
      'kv-binding',
      'kv-cache',
      c.kvCache.perLayer.bytes,
      binding,
      `one layer's KV cache (${c.kvCache.perLayer.name}) takes ${gb(c.kvCache.perLayer.bytes)} for ${count(r.tokens)} tokens, over ${bindingName}`,
    ),
    check(
      'activation-binding',
      'activations',
      c.activations.largest.bytes,
      binding,
      `the ${c.activations.largest.name} takes ${gb(c.activations.largest.bytes)} for a ${count(r.prompt)}-token prompt, over ${bindingName}`,
    ),
  ];
}

// ------------------------------------------------------------------ plan

function resolve(req: PlanRequest): Resolved {
  const batch = req.batch ?? 1;
  const positive = (v: number, field: string) => {
    if (!Number.isInteger(v) || v < 1)
      throw new InferError('bad-options', `${field} must be a positive integer (got ${v})`, { field });
  };
  positive(batch, 'batch');
  positive(req.tokenBudget, 'tokenBudget');
  const prompt = Math.min(req.promptTokens ?? DEFAULT_PROMPT_TOKENS, req.tokenBudget);
  positive(prompt, 'promptTokens');
  return {
    m: req.model,
    name: req.name ?? `${(countParameters(req.model) / 1e9).toFixed(2)}B-parameter`,
    format: req.weights,
    blockSize: req.blockSize ?? 32,
    batch,
    tokens: req.tokenBudget,
    prompt,
    kvAsked: req.kvDtype,
    allLogits: req.allLogits ?? false,
    prefill: req.prefill ?? 'alone',
    target: req.target,
  };
}

function evaluate(r: Resolved): { components: PlanComponents; checks: PlanCheck[] } {
  const components = { weights: weightComponent(r), kvCache: kvComponent(r), activations: activationComponent(r) };
  return { components, checks: checks(r, components) };
}

const fitsAt = (r: Resolved, format: PlanWeightFormat, tokens: number): boolean =>
  evaluate({ ...r, format, tokens, prompt: Math.min(r.prompt, tokens) }).checks.every((c) => c.fits);

/** The largest token budget ≤ the requested one at which `format` fits, or 0 when even the prompt + 1 does not. */
function largestBudget(r: Resolved, format: PlanWeightFormat): number {
  let lo = Math.min(r.tokens, r.prompt + 1);
  if (!fitsAt(r, format, lo)) return 0;
  let hi = r.tokens;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fitsAt(r, format, mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function advise(r: Resolved, failing: PlanCheck): string {
  const label = (f: PlanWeightFormat) => (f === 'q4' ? `q4 (blocks of ${r.blockSize})` : f);
  for (const format of PLAN_FORMATS) {
    const tokens = largestBudget(r, format);
    if (tokens === 0) continue;
    const f32Kv = planKvDtype(format, r.kvAsked) === 'f32';
    const halfKv = tokens < r.tokens && f32Kv ? largestBudget({ ...r, kvAsked: 'f16' }, format) : tokens;
    const orHalf = halfKv > tokens ? ` (${count(halfKv)} with an f16 KV cache)` : '';
    return `${failing.what}; ${label(format)} fits with up to ${count(tokens)} tokens${orHalf}.`;
  }
  const minimum = Math.min(r.tokens, r.prompt + 1);
  const q4 = evaluate({ ...r, format: 'q4', tokens: minimum, prompt: Math.min(r.prompt, minimum) }).checks.find(
    (c) => !c.fits,
  )!;
  const why = q4.what === failing.what ? '' : `: ${q4.what}`;
  return `${failing.what}; no format fits, not even ${label('q4')} with ${count(minimum)} tokens${why}.`;
}

function budgetWarnings(r: Resolved): LabWarning[] {
  const max = r.m.maxPositionEmbeddings;
  if (r.tokens <= max) return [];
  return [
    {
      code: 'budget-over-max-positions',
      field: 'max_position_embeddings',
      message: `the token budget of ${count(r.tokens)} exceeds the model's max_position_embeddings of ${count(max)}: the rotary tables and the KV cache are sized from the budget, but the model was not trained on positions past ${count(max)}, so text may degrade there`,
    },
  ];
}

/** The memory plan for one format, batch, budget and target. */
export function planInferenceMemory(req: PlanRequest): MemoryPlan {
  const r = resolve(req);
  const { components, checks: all } = evaluate(r);
  const failing = all.find((c) => !c.fits);
  return {
    format: r.format,
    blockSize: r.blockSize,
    tokenBudget: r.tokens,
    promptTokens: r.prompt,
    kvDtype: planKvDtype(r.format, r.kvAsked),
    components,
    checks: all,
    fits: !failing,
    advice: failing && advise(r, failing),
    warnings: budgetWarnings(r),
  };
}

/** One plan per format (f32, f16, q4), for a format selector that shows what each takes and whether it fits. */
export function planAllFormats(req: Omit<PlanRequest, 'weights'>): MemoryPlan[] {
  return PLAN_FORMATS.map((weights) => planInferenceMemory({ ...req, weights }));
}
