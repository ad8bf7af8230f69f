/**
 * The ONNX graph BUILDER: the nodes of a Qwen2 / Llama / Mistral decoder, from its spec; the
 * writer (./graph-writer.ts) records them with the weights and serialises the model. One graph serves
 * prefill and incremental decoding: it takes the new token ids and the KV cache so far, and
 * returns logits and the grown cache. Batch size is 1: activations are [S, ·]; only the KV cache
 * keeps the conventional leading batch axis.
 *
 * Shape legend: S new tokens, P cached positions, T = P + S, H hidden, nH heads, kvH KV heads,
 * G = nH / kvH, D head dim, I intermediate, V vocab.
 *
 *   inputs   input_ids          int32 [S]
 *            past.{l}.key       kv    [1, kvH, P, D]     (P = 0 for the first call)
 *            past.{l}.value     kv    [1, kvH, P, D]
 *   outputs  logits             f32   [S, V]  (allLogits) or [1, V] (last position only)
 *            present.{l}.key    kv    [1, kvH, T, D]
 *            present.{l}.value  kv    [1, kvH, T, D]
 * kv is f32, or f16 with `kvCache: 'f16'`: then the new positions' K/V are cast to f16 and
 * concatenated in f16, and attention reads an f32 view of the cache (Cast); with GroupQueryAttention
 * the kernel gets the f32 view of the past and its f32 present is cast to f16 (the same values: the
 * past round-trips f16 → f32 → f16 exactly).
 *
 * Attention comes in two forms with the same inputs and outputs:
 *   - 'gqa' (default when head_dim % 16 == 0): ORT's fused com.microsoft GroupQueryAttention
 *     (rotary embedding, KV-cache concat, causal softmax in one kernel; CPU/wasm and WebGPU
 *     EPs). Fewer, larger kernels: per-kernel overhead dominates small models on wasm.
 *   - 'onnx': standard ONNX ops only (Mul/MatMul/Softmax/Concat...), portable to any runtime.
 *
 * Weights are initializers with data_location EXTERNAL whose `location` is the safetensors shard
 * and whose `offset` is the tensor's absolute byte offset in it (written by GraphWriter.external):
 * nothing is copied or re-serialised.
 * HF Linear weights are stored [out, in]; every projection is a `Gemm` with transB=1, which reads
 * W as Wᵀ in place (y = x·Wᵀ + b), so no transposed copy exists anywhere. Gemm needs 2-D operands,
 * which is why the hidden state is kept as [S, H] (batch 1). F16 / BF16 weights are declared in
 * their own type and followed by a Cast to f32 (ORT folds it at session creation). That is the
 * `f32` weight format; `f16` and `q4` (MatMulNBits) read weights the lab derives: ./graph-weights.ts,
 * which also emits the projections in f16 for `compute: 'f16'` (chosen against the EP by ./precision.ts).
 */
import { type ModelSpec, ropeInvFreq } from './architecture';
import { InferError } from './errors';
import type { DerivedWeights } from './derived-weights';
import { GraphWriter, type WeightRef } from './graph-writer';
import { weightEmitter } from './graph-weights';
import { DataType, valueInfo } from './onnx-proto';
import {
  type ComputeDtype,
  type KvCacheDtype,
  type WeightFormat,
  type WeightOptions,
  resolveWeightOptions,
} from './weight-format';

export type AttentionImpl = 'gqa' | 'onnx';

/** GroupQueryAttention with rotary needs head_dim % 16 == 0 (64 and 128 in every supported family). */
export function defaultAttention(spec: Pick<ModelSpec, 'headDim'>): AttentionImpl {
  return spec.headDim % 16 === 0 ? 'gqa' : 'onnx';
}

/**
 * `kvCache` and `compute` come from WeightOptions. The builder cannot see the EP: `compute: 'auto'`
 * is resolved by the loader (./precision.ts); given to the builder unresolved, it means f32.
 */
export interface GraphOptions extends WeightOptions {
  /** Logits at every position (parity tests) instead of the last one only (generation). */
  allLogits?: boolean;
  /** Fused GroupQueryAttention or standard ONNX ops; default: `defaultAttention(spec)`. */
  attention?: AttentionImpl;
  /**
   * Calibration variant (AIM): for every linear weight W, an extra output `act_sum.<W>` [in] with
   * Σ over this call's positions of |x_j|, the input W reads. Reduced in the graph, so full
   * activations never leave the device.
   */
  activationSums?: boolean;
  /** f16 / q4: the largest external-data file the lab writes (default just under 1 GiB; tests split with less). */
  externalFileBytes?: number;
  /** q4: the largest weight (as f32 bytes) one MatMulNBits node dequantizes; default Q4_CHUNK_F32_BYTES. */
  q4ChunkBytes?: number;
  /** The batched form (./graph-batch.ts: input_ids [B, S] and per-sequence past lengths); built by
   *  `buildDecoderGraph`, never by `buildGraph`, which makes the batch-1 graph. */
  batch?: boolean;
}

export const ACT_SUM_PREFIX = 'act_sum.';

/** A linear layer's input, for the activation sums. */
export interface LinearInput {
  readonly x: string;
  readonly weight: string;
  readonly inn: number;
}

/**
 * The calibration outputs: for each linear weight, Σ over rows of |its input| ([in]); `absRows`
 * gives the rows to sum (|x|, masked where rows are padding). q, k and v read one input: reduced once.
 */
export function activationSumOutputs(
  g: GraphWriter,
  inputs: readonly LinearInput[],
  absRows: (x: string) => string,
  axis0: string,
): ReturnType<typeof valueInfo>[] {
  const reduced = new Map<string, string>();
  return inputs.map(({ x, weight, inn }) => {
    let r = reduced.get(x);
    if (!r) reduced.set(x, (r = g.op('ReduceSum', [absRows(x), axis0], { keepdims: 0 })));
    g.op('Identity', [r], {}, ACT_SUM_PREFIX + weight);
    return valueInfo(ACT_SUM_PREFIX + weight, DataType.FLOAT, [inn]);
  });
}

export interface BuiltGraph {
  readonly model: Uint8Array;
  /** External data files the graph refers to (each must be mounted under this exact path). */
  readonly locations: readonly string[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly attention: AttentionImpl;
  readonly weights: WeightFormat;
  /** The dtype of the past/present tensors. */
  readonly kvCache: KvCacheDtype;
  /** The precision of the linear projections. */
  readonly compute: ComputeDtype;
  /** The weights the lab makes for f16 / q4 (external data files to produce); undefined for f32. */
  readonly derived: DerivedWeights | undefined;
}

export const OPSET = 17;
export const pastKey = (l: number) => `past.${l}.key`;
export const pastValue = (l: number) => `past.${l}.value`;
export const presentKey = (l: number) => `present.${l}.key`;
export const presentValue = (l: number) => `present.${l}.value`;

/**
 * The weight options resolved and checked, and the emitter of the graph's weight nodes: `weight(name)`
 * is checked against the shape the config implies (a missing or misshapen tensor is refused by name),
 * and every file the graph reads is added to `locations`. Shared by the batch-1 and batched builders.
 */
export function decoderWeights(
  spec: ModelSpec,
  weight: (name: string) => WeightRef | undefined,
  opts: GraphOptions,
  g: GraphWriter,
  locations: Set<string>,
) {
  const { format, blockSize, kvCache, compute: computeChoice } = resolveWeightOptions(opts);
  const compute: ComputeDtype = computeChoice === 'f16' ? 'f16' : 'f32';
  if (compute === 'f16' && format !== 'f16')
    throw new InferError('bad-options', `f16 compute runs f16 weights; use weights f16 (got ${format})`, {
      field: 'compute',
    });
  const checked = (name: string, shape: number[]): WeightRef => {
    const ref = weight(name);
    if (!ref)
      throw new InferError(
        'missing-weight',
        `the checkpoint has no tensor '${name}' (needed by ${spec.architecture})`,
        { tensor: name },
      );
    if (ref.shape.length !== shape.length || ref.shape.some((d, i) => d !== shape[i]))
      throw new InferError(
        'weight-shape',
        `tensor '${name}' has shape [${ref.shape.join(', ')}] but the config implies [${shape.join(', ')}]`,
        {
          file: ref.location,
          tensor: name,
        },
      );
    return ref;
  };
  const weights = weightEmitter(
    {
      g,
      spec,
      checked,
      mount: (l) => locations.add(l),
      externalFileBytes: opts.externalFileBytes,
      q4ChunkBytes: opts.q4ChunkBytes,
      compute,
    },
    format,
    blockSize,
  );
  return { weights, format, kvCache, compute };
}

/**
 * Builds the graph. `weight(name)` returns where a tensor is, or undefined when the checkpoint
 * lacks it (then the error names it).
 */
export function buildGraph(
  spec: ModelSpec,
  weight: (name: string) => WeightRef | undefined,
  opts: GraphOptions = {},
): BuiltGraph {
  const { hidden: H, heads: nH, kvHeads: kvH, headDim: D, intermediate: I, vocab: V, layers: L } = spec;
  if (opts.batch)
    throw new InferError('bad-options', 'the batched graph is built by buildDecoderGraph', { field: 'batch' });
  const g = new GraphWriter();
  const locations = new Set<string>();
  const { weights, kvCache, compute, format } = decoderWeights(spec, weight, opts, g, locations);
  const w = weights.weight;

  // Shared constants.
  const axis0 = g.constI64('c.axis0', [0]);
  const one = g.constI64('c.one', [1]);
  const zero = g.constI64('c.zero_scalar', [0], []);
  const oneScalar = g.constI64('c.one_scalar', [1], []);
  const shapeSHeadsD = g.constI64('c.shape_s_nh_d', [-1, nH, D]);
  const shapeSKvD = g.constI64('c.shape_s_kvh_d', [-1, kvH, D]);
  const shapeKvGroupD = g.constI64('c.shape_kvh_gs_d', [kvH, -1, D]);
  const shapeHeadsSD = g.constI64('c.shape_nh_s_d', [nH, -1, D]);
  const shapeHeadsST = g.constI64('c.shape_nh_s_t', [nH, -1, 0]); // 0 copies T from the input
  const shapeKvGroupT = g.constI64('c.shape_kvh_gs_t', [kvH, -1, 0]);
  const shapeSAttn = g.constI64('c.shape_s_attn', [-1, nH * D]);
  const eps = g.constF32('c.eps', [spec.eps], []);
  const scale = g.constF32('c.scale', [1 / Math.sqrt(D)], []);
  const negInf = g.constF32('c.neg_inf', [-Infinity], []);
  const zeroF = g.constF32('c.zero_f', [0], []);
  const invFreq = g.constF32('c.inv_freq', ropeInvFreq(spec), [1, D / 2]);
  const kvType = kvCache === 'f16' ? DataType.FLOAT16 : DataType.FLOAT;
  /** A KV tensor as attention reads it (f32), from the cache's dtype. */
  const kvF32 = (t: string, name?: string) => (kvCache === 'f16' ? g.op('Cast', [t], { to: DataType.FLOAT }, name) : t);

  const attention = opts.attention ?? defaultAttention(spec);
  if (attention === 'gqa' && D % 16 !== 0)
    throw new InferError(
      'unsupported-feature',
      `GroupQueryAttention needs head_dim % 16 == 0 (got ${D}); use attention 'onnx'`,
    );

  // Positions P..T-1 and the causal mask [S, T]: key j is visible to query i when j <= P + i.
  const S = g.op('Shape', ['input_ids'], {}, 'S'); // [1]
  const P = g.op('Shape', [pastKey(0)], { start: 2, end: 3 }, 'P'); // [1]
  const T = g.op('Add', [P, S], {}, 'T');
  const pS = g.op('Squeeze', [P, axis0]);
  const tS = g.op('Squeeze', [T, axis0]);
  const positions = g.op('Range', [pS, tS, oneScalar], {}, 'positions'); // [S] int64
  const keyIdx = g.op('Range', [zero, tS, oneScalar], {}, 'key_index'); // [T]
  const future = g.op('Greater', [g.op('Unsqueeze', [keyIdx, axis0]), g.op('Unsqueeze', [positions, one])]); // [S, T]
  const mask = g.op('Where', [future, negInf, zeroF], {}, 'causal_mask'); // [S, T]

  // GroupQueryAttention inputs: rotary caches for positions 0..T-1 ([T, D/2], its rotate_half
  // convention with rotary_interleaved=0), seqlens_k = T - 1 and the total length T (int32).
  let gqaExtra: string[] = [];
  // The f32 view of an f16 past for GroupQueryAttention. ORT may write the kernel's present into its
  // past input's buffer (in place) when shape inference says they are the same size, which it does
  // for an intermediate [1, kvH, P, D]: a Reshape to [1, kvH, -1, D] leaves P unknown, so it never does.
  const shapeKvAnyT = g.constI64('c.shape_1_kvh_any_d', [1, kvH, -1, D]);
  const gqaPast = (past: string) =>
    kvCache === 'f16' ? g.op('Reshape', [kvF32(past), shapeKvAnyT], {}, `${past}.f32`) : past;
  if (attention === 'gqa') {
    const allFreqs = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [keyIdx], { to: DataType.FLOAT }), one]), invFreq]); // [T, D/2]
    const t32 = g.op('Cast', [T], { to: DataType.INT32 });
    gqaExtra = [
      g.op('Sub', [t32, g.constI32('c.one_i32', [1])], {}, 'seqlens_k'), // [1]
      g.op('Squeeze', [t32, axis0], {}, 'total_sequence_length'), // scalar
      g.op('Cos', [allFreqs], {}, 'cos_cache'),
      g.op('Sin', [allFreqs], {}, 'sin_cache'),
    ];
  }

  // Rotary tables, as transformers builds them: freqs = pos ⊗ inv_freq, emb = [freqs, freqs].
  const freqs = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [positions], { to: DataType.FLOAT }), one]), invFreq]); // [S, D/2]
  const emb = g.op('Concat', [freqs, freqs], { axis: -1 }); // [S, D]
  const cos = g.op('Cos', [emb], {}, 'rope_cos');
  const sin = g.op('Sin', [emb], {}, 'rope_sin');
  // x·cos + rotate_half(x)·sin, rotate_half(x) = [-x2, x1] = x·R with R a signed [D, D]
  // permutation (one MatMul instead of Slice, Slice, Neg, Concat). x: [heads, S, D].
  const rotation = new Float32Array(D * D);
  for (let i = 0; i < D / 2; i++) {
    rotation[(i + D / 2) * D + i] = -1; // out[i] = -x[i + D/2]
    rotation[i * D + i + D / 2] = 1; // out[i + D/2] = x[i]
  }
  const rotate = g.constF32('c.rotate_half', rotation, [D, D]);
  const rope = (x: string): string =>
    g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [g.op('MatMul', [x, rotate]), sin])]);
  // RMSNorm: x / sqrt(mean(x²) + eps) · w, over the last axis. Written Pow → ReduceMean → Add →
  // Sqrt → Div → Mul, the pattern ORT fuses into one SimplifiedLayerNormalization kernel.
  const two = g.constF32('c.two', [2], []);
  const rmsNorm = (x: string, wName: string): string => {
    const ms = g.op('ReduceMean', [g.op('Pow', [x, two])], { axes: [-1], keepdims: 1 });
    const normed = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, eps])])]);
    return g.op('Mul', [normed, w(wName, [H])]);
  };
  // y = x·Wᵀ (+ b): Gemm with transB=1 reads the [out, in] weight as stored.
  const linearInputs: LinearInput[] = [];
  const linear = (x: string, wName: string, out: number, inn: number, bias?: string): string => {
    linearInputs.push({ x, weight: wName, inn });
    return weights.linear(x, wName, out, inn, bias);
  };

  let x = weights.embed('input_ids'); // [S, H]

  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, `${p}.input_layernorm.weight`);
    const bias = (n: string) => (spec.qkvBias ? `${p}.self_attn.${n}.bias` : undefined);
    const q = linear(h, `${p}.self_attn.q_proj.weight`, nH * D, H, bias('q_proj')); // [S, nH·D]
    const k = linear(h, `${p}.self_attn.k_proj.weight`, kvH * D, H, bias('k_proj')); // [S, kvH·D]
    const v = linear(h, `${p}.self_attn.v_proj.weight`, kvH * D, H, bias('v_proj'));
    let attn: string; // [S, nH·D]
    if (attention === 'gqa') {
      const f16 = kvCache === 'f16';
      const [out, presentK, presentV] = g.opN(
        'GroupQueryAttention',
        [
          g.op('Unsqueeze', [q, axis0]),
          g.op('Unsqueeze', [k, axis0]),
          g.op('Unsqueeze', [v, axis0]),
          gqaPast(pastKey(l)),
          gqaPast(pastValue(l)),
          ...gqaExtra,
        ],
        [`attn_${l}`, f16 ? `${presentKey(l)}.f32` : presentKey(l), f16 ? `${presentValue(l)}.f32` : presentValue(l)],
        { num_heads: nH, kv_num_heads: kvH, do_rotary: 1, rotary_interleaved: 0 },
        'com.microsoft',
      );
      if (f16) {
        g.op('Cast', [presentK!], { to: DataType.FLOAT16 }, presentKey(l));
        g.op('Cast', [presentV!], { to: DataType.FLOAT16 }, presentValue(l));
      }
      attn = g.op('Squeeze', [out!, axis0]);
    } else {
      const qh = rope(g.op('Transpose', [g.op('Reshape', [q, shapeSHeadsD])], { perm: [1, 0, 2] })); // [nH, S, D]
      const kh = rope(g.op('Transpose', [g.op('Reshape', [k, shapeSKvD])], { perm: [1, 0, 2] })); // [kvH, S, D]
      const vh = g.op('Transpose', [g.op('Reshape', [v, shapeSKvD])], { perm: [1, 0, 2] });
      // The cache grows in its own dtype; attention reads it in f32.
      const toKv = (x: string) => (kvCache === 'f16' ? g.op('Cast', [x], { to: DataType.FLOAT16 }) : x);
      const kCache = g.op('Concat', [g.op('Squeeze', [pastKey(l), axis0]), toKv(kh)], { axis: 1 }); // [kvH, T, D]
      const vCache = g.op('Concat', [g.op('Squeeze', [pastValue(l), axis0]), toKv(vh)], { axis: 1 });
      g.op('Unsqueeze', [kCache, axis0], {}, presentKey(l));
      g.op('Unsqueeze', [vCache, axis0], {}, presentValue(l));
      const kAll = kvF32(kCache);
      const vAll = kvF32(vCache);
      // GQA without repeating K/V: query heads h = kv·G + j are contiguous, so [nH, S, D] viewed
      // as [kvH, G·S, D] lines each group up with its KV head.
      const qg = g.op('Reshape', [g.op('Mul', [qh, scale]), shapeKvGroupD]); // [kvH, G·S, D]
      const scores = g.op('MatMul', [qg, g.op('Transpose', [kAll], { perm: [0, 2, 1] })]); // [kvH, G·S, T]
      const masked = g.op('Add', [g.op('Reshape', [scores, shapeHeadsST]), mask]); // [nH, S, T]
      const probs = g.op('Reshape', [g.op('Softmax', [masked], { axis: -1 }), shapeKvGroupT]); // [kvH, G·S, T]
      const ctx = g.op('Reshape', [g.op('MatMul', [probs, vAll]), shapeHeadsSD]); // [nH, S, D]
      attn = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [1, 0, 2] }), shapeSAttn]); // [S, nH·D]
    }
    x = g.op('Add', [x, linear(attn, `${p}.self_attn.o_proj.weight`, H, nH * D)]);

    const h2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`);
    const gate = linear(h2, `${p}.mlp.gate_proj.weight`, I, H); // [S, I]
    const up = linear(h2, `${p}.mlp.up_proj.weight`, I, H);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]); // silu(gate)·up
    x = g.op('Add', [x, linear(act, `${p}.mlp.down_proj.weight`, H, I)]);
  }

  if (!opts.allLogits) {
    const last = g.op('Sub', [S, one]); // [1]
    x = g.op('Gather', [x, last], { axis: 0 }); // [1, H]
  }
  weights.head(rmsNorm(x, 'model.norm.weight')); // logits [S or 1, V]

  const inputs = [valueInfo('input_ids', DataType.INT32, ['S'])];
  const outputs = [valueInfo('logits', DataType.FLOAT, [opts.allLogits ? 'S' : 1, V])];
  for (let l = 0; l < L; l++) {
    inputs.push(valueInfo(pastKey(l), kvType, [1, kvH, 'P', D]), valueInfo(pastValue(l), kvType, [1, kvH, 'P', D]));
    outputs.push(
      valueInfo(presentKey(l), kvType, [1, kvH, 'T', D]),
      valueInfo(presentValue(l), kvType, [1, kvH, 'T', D]),
    );
  }
  if (opts.activationSums) outputs.push(...activationSumOutputs(g, linearInputs, (x) => g.op('Abs', [x]), axis0));
  const model = g.encode({
    name: spec.architecture,
    docString: `${spec.architecture} decoder, ${L} layers, built from config.json`,
    opsets: [
      { domain: '', version: OPSET },
      ...(attention === 'gqa' || weights.microsoftOps ? [{ domain: 'com.microsoft', version: 1 }] : []),
    ],
    inputs,
    outputs,
  });
  return {
    model,
    locations: [...locations],
    inputNames: inputs.map((i) => i.name),
    outputNames: outputs.map((o) => o.name),
    attention,
    weights: format,
    kvCache,
    compute,
    derived: weights.derived,
  };
}
