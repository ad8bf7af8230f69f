/**
 * The BATCHED decoder graph: B sequences of different lengths in one call, each with its own
 * positions and KV cache slot. The same layers, weights and attention forms as the batch-1 graph
 * (./graph.ts); only the shapes and the attention's bookkeeping differ.
 *
 *   inputs   input_ids          int32 [B, S]       up to S new tokens per sequence, padded on the right
 *            new_lengths        int32 [B]          how many of the S are sequence b's (the rest is padding)
 *            past_lengths       int32 [B]          how many of the P cached positions each sequence uses
 *            past.{l}.key       kv    [B, kvH, P, D]  sequence b's cache in [0, past_lengths[b]), then padding
 *            past.{l}.value     kv    [B, kvH, P, D]
 *   outputs  logits             f32   [B, V]  (last new token of each sequence) or [B·S, V] (allLogits)
 *            present.{l}.key    kv    [B, kvH, P + S, D]  sequence b's cache in [0, past_lengths[b] + new_lengths[b])
 *            present.{l}.value  kv    [B, kvH, P + S, D]
 *
 * Sequence b's new tokens take positions past_lengths[b], past_lengths[b] + 1, ... and are written
 * into its slot right after its own past, so a slot never holds a gap and reads exactly the keys the
 * batch-1 graph would. Whatever lies past a slot's length (zeros, a padding token's K/V, stale
 * values) is never attended to: a query sees only keys at or before its own position. Decode steps
 * have S = 1 for everyone; a prefill of several prompts pads the shorter ones.
 *   - 'gqa': GroupQueryAttention's own variable-length form (seqlens_k = past + new length − 1 per
 *     sequence, total_sequence_length = P + S): it concatenates each sequence's past with its new K/V and
 *     rotates by each sequence's positions.
 *   - 'onnx': the new K/V are scattered (ScatterElements) into the cache at each sequence's
 *     positions, and a [B, 1, S, P + S] mask hides every key past a query's position.
 * The hidden state is [B·S, H], so every projection is the same 2-D Gemm / MatMulNBits as at batch 1,
 * one row per token.
 */
import { type ModelSpec, ropeInvFreq } from './architecture';
import { InferError } from './errors';
import type { WeightRef } from './graph-writer';
import { GraphWriter } from './graph-writer';
import {
  type BuiltGraph,
  type GraphOptions,
  type LinearInput,
  OPSET,
  activationSumOutputs,
  buildGraph,
  decoderWeights,
  defaultAttention,
  pastKey,
  pastValue,
  presentKey,
  presentValue,
} from './graph';
import { DataType, valueInfo } from './onnx-proto';

export const PAST_LENGTHS = 'past_lengths';
export const NEW_LENGTHS = 'new_lengths';
/** With `newKvOutputs`: each call's new K (rotated, as the cache holds it) and V rows, [B, kvH, S, D]. */
export const newKey = (l: number) => `new.${l}.key`;
export const newValue = (l: number) => `new.${l}.value`;

export interface BatchGraphOptions extends GraphOptions {
  /**
   * GroupQueryAttention only: output each call's new K/V rows (`new.{l}.key`, `new.{l}.value`) instead
   * of the whole present cache; the caller appends them to its own cache (./batch-kv.ts). On wasm this
   * saves copying the whole cache out of ORT's heap into a fresh array at every step. The past may then
   * be longer than every sequence (room to append into): only its first past_lengths[b] positions are read.
   */
  newKvOutputs?: boolean;
}

/** The batch-1 graph, or the batched one with `opts.batch`. */
export function buildDecoderGraph(
  spec: ModelSpec,
  weight: (name: string) => WeightRef | undefined,
  opts: BatchGraphOptions = {},
): BuiltGraph {
  return opts.batch ? buildBatchGraph(spec, weight, opts) : buildGraph(spec, weight, opts);
}

export function buildBatchGraph(
  spec: ModelSpec,
  weight: (name: string) => WeightRef | undefined,
  opts: BatchGraphOptions = {},
): BuiltGraph {
  const { hidden: H, heads: nH, kvHeads: kvH, headDim: D, intermediate: I, vocab: V, layers: L } = spec;
  const g = new GraphWriter();
  const locations = new Set<string>();
  const { weights, kvCache, compute, format } = decoderWeights(spec, weight, opts, g, locations);
  const w = weights.weight;
  const attention = opts.attention ?? defaultAttention(spec);
  if (attention === 'gqa' && D % 16 !== 0)
    throw new InferError(
      'unsupported-feature',
      `GroupQueryAttention needs head_dim % 16 == 0 (got ${D}); use attention 'onnx'`,
    );

  const i64 = (name: string, values: number[], dims?: number[]) => g.constI64(`cb.${name}`, values, dims);
  const axis0 = i64('axis0', [0]);
  const axis1 = i64('axis1', [1]);
  const zero = i64('zero', [0], []);
  const oneScalar = i64('one', [1], []);
  const minusOne = i64('minus_one', [-1]);
  const eps = g.constF32('cb.eps', [spec.eps], []);
  const scale = g.constF32('cb.scale', [1 / Math.sqrt(D)], []);
  const negInf = g.constF32('cb.neg_inf', [-Infinity], []);
  const zeroF = g.constF32('cb.zero_f', [0], []);
  const invFreq = g.constF32('cb.inv_freq', ropeInvFreq(spec), [1, D / 2]);
  const kvType = kvCache === 'f16' ? DataType.FLOAT16 : DataType.FLOAT;
  const kvF32 = (t: string) => (kvCache === 'f16' ? g.op('Cast', [t], { to: DataType.FLOAT }) : t);
  const toKv = (t: string) => (kvCache === 'f16' ? g.op('Cast', [t], { to: DataType.FLOAT16 }) : t);
  const dims = (...parts: string[]) => g.op('Concat', parts, { axis: 0 });

  // Sizes, and each new token's position: past_lengths[b] + i.
  const B = g.op('Shape', ['input_ids'], { start: 0, end: 1 }, 'B'); // [1]
  const S = g.op('Shape', ['input_ids'], { start: 1, end: 2 }, 'S'); // [1]
  const P = g.op('Shape', [pastKey(0)], { start: 2, end: 3 }, 'P'); // [1]
  const T = g.op('Add', [P, S], {}, 'T');
  const tS = g.op('Squeeze', [T, axis0]);
  const pastLengths64 = g.op('Cast', [PAST_LENGTHS], { to: DataType.INT64 });
  const steps = g.op('Range', [zero, g.op('Squeeze', [S, axis0]), oneScalar]); // [S]
  const positions = g.op(
    'Add',
    [g.op('Unsqueeze', [pastLengths64, axis1]), g.op('Unsqueeze', [steps, axis0])],
    {},
    'positions',
  ); // [B, S]
  const keyIdx = g.op('Range', [zero, tS, oneScalar], {}, 'key_index'); // [T]

  const newKv = attention === 'gqa' && opts.newKvOutputs === true;
  let gqaExtra: string[] = [];
  if (attention === 'gqa') {
    const allFreqs = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [keyIdx], { to: DataType.FLOAT }), axis1]), invFreq]); // [T, D/2]
    const lengths = g.op('Add', [PAST_LENGTHS, NEW_LENGTHS]); // [B]: each sequence's length after this call
    gqaExtra = [
      g.op('Sub', [lengths, g.constI32('cb.one_i32', [1])], {}, 'seqlens_k'), // [B]
      g.op('Squeeze', [g.op('Cast', [T], { to: DataType.INT32 }), axis0], {}, 'total_sequence_length'),
      g.op('Cos', [allFreqs], {}, 'cos_cache'),
      g.op('Sin', [allFreqs], {}, 'sin_cache'),
    ];
  }
  // 'onnx': rotary tables per token [B, 1, S, D], the mask [B, 1, S, T] (key j visible to the
  // query at position p when j <= p), and the scatter indices that put new K/V at their positions.
  let cos = '';
  let sin = '';
  let mask = '';
  let scatterAt = '';
  if (attention === 'onnx') {
    const freqs = g.op('Mul', [
      g.op('Unsqueeze', [g.op('Cast', [positions], { to: DataType.FLOAT }), i64('axes_2', [2])]),
      invFreq,
    ]); // [B, S, D/2]
    const emb = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: -1 }), axis1]); // [B, 1, S, D]
    cos = g.op('Cos', [emb], {}, 'rope_cos');
    sin = g.op('Sin', [emb], {}, 'rope_sin');
    const queryPos = g.op('Unsqueeze', [positions, i64('axes_1_3', [1, 3])]); // [B, 1, S, 1]
    mask = g.op('Where', [g.op('Greater', [keyIdx, queryPos]), negInf, zeroF], {}, 'batch_mask'); // [B, 1, S, T]
    scatterAt = g.op('Expand', [queryPos, dims(B, i64('kvh', [kvH]), S, i64('d', [D]))], {}, 'kv_scatter_index');
  }
  const rotation = new Float32Array(D * D);
  for (let i = 0; i < D / 2; i++) {
    rotation[(i + D / 2) * D + i] = -1;
    rotation[i * D + i + D / 2] = 1;
  }
  const rotate = g.constF32('cb.rotate_half', rotation, [D, D]);
  const rope = (x: string): string =>
    g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [g.op('MatMul', [x, rotate]), sin])]);
  const two = g.constF32('cb.two', [2], []);
  const rmsNorm = (x: string, wName: string): string => {
    const ms = g.op('ReduceMean', [g.op('Pow', [x, two])], { axes: [-1], keepdims: 1 });
    const normed = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, eps])])]);
    return g.op('Mul', [normed, w(wName, [H])]);
  };
  const linearInputs: LinearInput[] = []; // for the activation sums (calibration)
  const linear = (x: string, wName: string, out: number, inn: number, bias?: string) => {
    if (opts.activationSums) linearInputs.push({ x, weight: wName, inn });
    return weights.linear(x, wName, out, inn, bias);
  };

  const shapeBSQ = dims(B, S, i64('q_width', [nH * D])); // GroupQueryAttention's [B, S, nH·D]
  const shapeBSKv = dims(B, S, i64('kv_width', [kvH * D]));
  const shapeAnyKv = dims(B, i64('kvh_any', [kvH, -1, D])); // hides P from shape inference (see graph.ts)
  const heads = (x: string, n: number) =>
    g.op('Transpose', [g.op('Reshape', [x, dims(B, S, i64(`heads_${n}`, [n, D]))])], { perm: [0, 2, 1, 3] }); // [B, n, S, D]
  const zeros = g.op('Expand', [toKv(zeroF), dims(B, i64('kvh2', [kvH]), S, i64('d2', [D]))], {}, 'kv_zeros');
  const rows = i64('rows', [-1, nH * D]);
  const shapeKvGroupD = i64('kv_group_d', [0, kvH, -1, D]); // 0 copies a dimension (here B, and T below)
  const shapeHeadsST = i64('heads_s_t', [0, nH, -1, 0]);
  const shapeKvGroupT = i64('kv_group_t', [0, kvH, -1, 0]);
  const shapeHeadsSD = i64('heads_s_d', [0, nH, -1, D]);

  // newKvOutputs: the new keys rotated as GroupQueryAttention rotates them inside (x·cos − x₂·sin,
  // x₂·cos + x·sin over the same cos/sin rows), so the appended cache holds the present's exact values.
  const shapeBSHeadsKv = dims(B, S, i64('kvh_d', [kvH, D]));
  let rotateKeys = (k: string): string => k;
  if (newKv) {
    const table = (t: string) => {
      const rowsAt = g.op('Gather', [t, positions], { axis: 0 }); // [B, S, D/2]
      return g.op('Unsqueeze', [g.op('Concat', [rowsAt, rowsAt], { axis: -1 }), i64('axes_2b', [2])]); // [B, S, 1, D]
    };
    const [cosTable, sinTable] = [table(gqaExtra[2]!), table(gqaExtra[3]!)];
    const [lo, mid, hi, axis3] = [i64('half_0', [0]), i64('half_1', [D / 2]), i64('half_2', [D]), i64('axes_3', [3])];
    rotateKeys = (k) => {
      const k4 = g.op('Reshape', [k, shapeBSHeadsKv]); // [B, S, kvH, D]
      const rotated = g.op(
        'Concat',
        [g.op('Neg', [g.op('Slice', [k4, mid, hi, axis3])]), g.op('Slice', [k4, lo, mid, axis3])],
        { axis: -1 },
      );
      return g.op('Add', [g.op('Mul', [k4, cosTable]), g.op('Mul', [rotated, sinTable])]);
    };
  }

  let x = weights.embed(g.op('Reshape', ['input_ids', minusOne], {}, 'ids_flat')); // [B·S, H]
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, `${p}.input_layernorm.weight`);
    const bias = (n: string) => (spec.qkvBias ? `${p}.self_attn.${n}.bias` : undefined);
    const q = linear(h, `${p}.self_attn.q_proj.weight`, nH * D, H, bias('q_proj')); // [B·S, nH·D]
    const k = linear(h, `${p}.self_attn.k_proj.weight`, kvH * D, H, bias('k_proj'));
    const v = linear(h, `${p}.self_attn.v_proj.weight`, kvH * D, H, bias('v_proj'));
    let attn: string; // [B·S, nH·D]
    if (attention === 'gqa') {
      const f16 = kvCache === 'f16';
      const past = (t: string) => (f16 ? g.op('Reshape', [kvF32(t), shapeAnyKv]) : t);
      const [out, presentK, presentV] = g.opN(
        'GroupQueryAttention',
        [
          g.op('Reshape', [q, shapeBSQ]),
          g.op('Reshape', [k, shapeBSKv]),
          g.op('Reshape', [v, shapeBSKv]),
          past(pastKey(l)),
          past(pastValue(l)),
          ...gqaExtra,
        ],
        [`attn_${l}`, f16 ? `${presentKey(l)}.f32` : presentKey(l), f16 ? `${presentValue(l)}.f32` : presentValue(l)],
        { num_heads: nH, kv_num_heads: kvH, do_rotary: 1, rotary_interleaved: 0 },
        'com.microsoft',
      );
      if (newKv) {
        g.op('Transpose', [toKv(rotateKeys(k))], { perm: [0, 2, 1, 3] }, newKey(l));
        g.op('Transpose', [toKv(g.op('Reshape', [v, shapeBSHeadsKv]))], { perm: [0, 2, 1, 3] }, newValue(l));
      } else if (f16) {
        g.op('Cast', [presentK!], { to: DataType.FLOAT16 }, presentKey(l));
        g.op('Cast', [presentV!], { to: DataType.FLOAT16 }, presentValue(l));
      }
      attn = g.op('Reshape', [out!, rows]);
    } else {
      const qh = rope(heads(q, nH)); // [B, nH, S, D]
      const kh = rope(heads(k, kvH)); // [B, kvH, S, D]
      const vh = heads(v, kvH);
      const grow = (past: string, fresh: string, name: string) =>
        g.op(
          'ScatterElements',
          [g.op('Concat', [past, zeros], { axis: 2 }), scatterAt, toKv(fresh)],
          { axis: 2 },
          name,
        );
      const kAll = kvF32(grow(pastKey(l), kh, presentKey(l))); // [B, kvH, T, D]
      const vAll = kvF32(grow(pastValue(l), vh, presentValue(l)));
      // As at batch 1: query heads h = kv·G + j are contiguous, so [B, nH, S, D] viewed as
      // [B, kvH, G·S, D] lines each group up with its KV head.
      const qg = g.op('Reshape', [g.op('Mul', [qh, scale]), shapeKvGroupD]);
      const scores = g.op('MatMul', [qg, g.op('Transpose', [kAll], { perm: [0, 1, 3, 2] })]); // [B, kvH, G·S, T]
      const masked = g.op('Add', [g.op('Reshape', [scores, shapeHeadsST]), mask]); // [B, nH, S, T]
      const probs = g.op('Reshape', [g.op('Softmax', [masked], { axis: -1 }), shapeKvGroupT]);
      const ctx = g.op('Reshape', [g.op('MatMul', [probs, vAll]), shapeHeadsSD]); // [B, nH, S, D]
      attn = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), rows]);
    }
    x = g.op('Add', [x, linear(attn, `${p}.self_attn.o_proj.weight`, H, nH * D)]);
    const h2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`);
    const gate = linear(h2, `${p}.mlp.gate_proj.weight`, I, H);
    const up = linear(h2, `${p}.mlp.up_proj.weight`, I, H);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    x = g.op('Add', [x, linear(act, `${p}.mlp.down_proj.weight`, H, I)]);
  }
  if (!opts.allLogits) {
    // The last new position of each sequence: [B·S, H] → [B, S, H] → [B, H].
    // The last new token of each sequence: row b·S + new_lengths[b] − 1 of [B·S, H] → [B, H].
    const firstRows = g.op('Mul', [
      g.op('Range', [zero, g.op('Squeeze', [B, axis0]), oneScalar]),
      g.op('Squeeze', [S, axis0]),
    ]);
    const lastOffset = g.op('Sub', [g.op('Cast', [NEW_LENGTHS], { to: DataType.INT64 }), oneScalar]);
    x = g.op('Gather', [x, g.op('Add', [firstRows, lastOffset], {}, 'last_rows')], { axis: 0 });
  }
  weights.head(rmsNorm(x, 'model.norm.weight'));

  const inputs = [
    valueInfo('input_ids', DataType.INT32, ['B', 'S']),
    valueInfo(NEW_LENGTHS, DataType.INT32, ['B']),
    valueInfo(PAST_LENGTHS, DataType.INT32, ['B']),
  ];
  const outputs = [valueInfo('logits', DataType.FLOAT, [opts.allLogits ? 'BS' : 'B', V])];
  for (let l = 0; l < L; l++) {
    inputs.push(valueInfo(pastKey(l), kvType, ['B', kvH, 'P', D]), valueInfo(pastValue(l), kvType, ['B', kvH, 'P', D]));
    outputs.push(
      newKv ? valueInfo(newKey(l), kvType, ['B', kvH, 'S', D]) : valueInfo(presentKey(l), kvType, ['B', kvH, 'T', D]),
      newKv
        ? valueInfo(newValue(l), kvType, ['B', kvH, 'S', D])
        : valueInfo(presentValue(l), kvType, ['B', kvH, 'T', D]),
    );
  }
  if (opts.activationSums) {
    // Padding rows carry no token: a [B·S, 1] mask keeps only each sequence's first new_lengths[b] rows.
    const valid = g.op('Less', [
      g.op('Unsqueeze', [steps, axis0]),
      g.op('Unsqueeze', [g.op('Cast', [NEW_LENGTHS], { to: DataType.INT64 }), axis1]),
    ]); // [B, S]
    const rowMask = g.op('Reshape', [g.op('Cast', [valid], { to: DataType.FLOAT }), i64('rows_1', [-1, 1])]);
    outputs.push(...activationSumOutputs(g, linearInputs, (x) => g.op('Mul', [g.op('Abs', [x]), rowMask]), axis0));
  }
  const model = g.encode({
    name: spec.architecture,
    docString: `${spec.architecture} decoder, ${L} layers, batched, built from config.json`,
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
