/**
 * How the decoder graph (./graph.ts) reads its weights, per weight format (./weight-format.ts):
 * the f32-valued tensors (norms, biases), the linear projections, the embedding lookup and the
 * lm_head. `f32` emits exactly the nodes it always has (weights read in place from the shards);
 * `f16` and `q4` take every weight from files the lab derives (./derived-weights.ts), so no shard
 * is mounted whole:
 *   f16  Gemm over Cast(f16 W) (f32 compute); with f16 compute (WebGPU with shader-f16), each
 *        projection is Cast(Gemm(Cast(x → f16), f16 W) → f32): the weight feeds the Gemm as stored
 *        (2 bytes, no Cast for ORT to fold into an f32 copy), the residual stream and the lm_head stay f32
 *   q4   com.microsoft.MatMulNBits(x, B, scales), then Add(bias), in row chunks past
 *        Q4_CHUNK_F32_BYTES; the embedding is q4 too, read by com.microsoft.GatherBlockQuantized, and
 *        a tied lm_head is MatMulNBits over the same bytes (no f16 table, no second pack)
 */
import type { Q4BlockSize } from '../core/kernels/q4-pack';
import type { ModelSpec } from './architecture';
import { DEFAULT_MAX_FILE_BYTES, DerivedWeights } from './derived-weights';
import type { DerivedTensor, GraphWriter, WeightRef } from './graph-writer';
import { DataType } from './onnx-proto';
import type { ComputeDtype, WeightFormat } from './weight-format';

export interface WeightEmitter {
  /** An f32-valued weight (norm scale, bias). */
  weight(name: string, shape: number[]): string;
  /** y = x·Wᵀ (+ b) for W [out, inn]. */
  linear(x: string, wName: string, out: number, inn: number, bias?: string): string;
  /** The embedding rows of `ids`, f32 [S, H], named 'embedded'. */
  embed(ids: string): string;
  /** The logits of x, named 'logits'. */
  head(x: string): string;
  /** Whether the nodes need the com.microsoft opset. */
  readonly microsoftOps: boolean;
  /** The lab-made weights to produce before the session (undefined for f32). */
  readonly derived: DerivedWeights | undefined;
}

export interface EmitterContext {
  readonly g: GraphWriter;
  readonly spec: ModelSpec;
  /** The weight's reference, checked against the shape the config implies. */
  readonly checked: (name: string, shape: number[]) => WeightRef;
  /** Records that a shard is read in place. */
  readonly mount: (location: string) => void;
  /** Largest derived external-data file; default DEFAULT_MAX_FILE_BYTES. */
  readonly externalFileBytes?: number | undefined;
  /** Largest f32 form of a weight one MatMulNBits reads; default Q4_CHUNK_F32_BYTES. */
  readonly q4ChunkBytes?: number | undefined;
  /** 'f16' (f16 weights only): the linear projections compute in f16. Default 'f32'. */
  readonly compute?: ComputeDtype | undefined;
}

const EMBED = 'model.embed_tokens.weight';

/**
 * The largest weight (as f32) one MatMulNBits node dequantizes: onnxruntime-web's wasm kernel
 * expands the whole B to f32 on every call, so a bigger projection (the lm_head: 0.9 GB at 1.5B)
 * runs as row chunks over the same bytes, and that scratch stays this small.
 */
export const Q4_CHUNK_F32_BYTES = 64 * 2 ** 20;

type Q4Tensors = { packed: DerivedTensor; scales: DerivedTensor };
const LM_HEAD = 'lm_head.weight';

/**
 * f32 weights: f32 and f16 tensors read in place (f16 through a Cast that ORT folds); bf16 ones
 * converted to f32 by the lab as ORT reads them (derived, as f16/q4 are), because the WebGPU EP has
 * no bf16 Cast and session creation fails on one.
 */
function f32Emitter({ g, spec, checked, mount, externalFileBytes }: EmitterContext): WeightEmitter {
  let derived: DerivedWeights | undefined;
  const w = (name: string, shape: number[]) => {
    const ref = checked(name, shape);
    if (ref.dtype === 'BF16') {
      derived ??= new DerivedWeights('merge-lab.weights', externalFileBytes ?? DEFAULT_MAX_FILE_BYTES);
      return g.derived(derived.f32(ref));
    }
    mount(ref.location);
    return g.external(ref);
  };
  let embed: string | undefined;
  return {
    weight: w,
    linear: (x, wName, out, inn, bias) =>
      g.op('Gemm', bias ? [x, w(wName, [out, inn]), w(bias, [out])] : [x, w(wName, [out, inn])], { transB: 1 }),
    embed: (ids) => g.op('Gather', [(embed = w(EMBED, [spec.vocab, spec.hidden])), ids], { axis: 0 }, 'embedded'),
    head: (x) => {
      const head = spec.tied ? embed! : w(LM_HEAD, [spec.vocab, spec.hidden]);
      return g.op('Gemm', [x, head], { transB: 1 }, 'logits');
    },
    microsoftOps: false,
    get derived() {
      return derived;
    },
  };
}

/** f16 or q4: every weight from the derived files. */
function derivedEmitter(ctx: EmitterContext, format: 'f16' | 'q4', blockSize: Q4BlockSize): WeightEmitter {
  const { g, spec, checked } = ctx;
  const derived = new DerivedWeights('merge-lab.weights', ctx.externalFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  const V = spec.vocab;
  const H = spec.hidden;
  const weight = (name: string, shape: number[]) => g.derived(derived.f32(checked(name, shape)));
  const castF32 = (name: string) => g.op('Cast', [name], { to: DataType.FLOAT }, `${name}.f32`);
  const matmul = (x: string, ref: WeightRef, out: number, inn: number, name: string, outName?: string) => {
    if (format === 'f16') return g.op('Gemm', [x, castF32(g.derived(derived.f16(ref, name)))], { transB: 1 }, outName);
    return q4MatMul(x, derived.q4(ref, blockSize, name), out, inn, name, outName);
  };
  /** MatMulNBits, as row chunks (Concat along N) when the weight's f32 form exceeds Q4_CHUNK_F32_BYTES. */
  const q4MatMul = (x: string, q: Q4Tensors, n: number, k: number, name: string, outName?: string) => {
    const rowsPerChunk = Math.max(1, Math.floor((ctx.q4ChunkBytes ?? Q4_CHUNK_F32_BYTES) / (k * 4)));
    const nodeOf = (packed: DerivedTensor, scales: DerivedTensor, rows: number, out?: string) =>
      g.op('MatMulNBits', [x, g.derived(packed), g.derived(scales)], q4Attrs(rows, k), out, 'com.microsoft');
    if (n <= rowsPerChunk) return nodeOf(q.packed, q.scales, n, outName);
    const blocks = k / blockSize;
    const parts: string[] = [];
    for (let r = 0; r < n; r += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, n - r);
      const c = parts.length;
      const rowBytes = (blocks * blockSize) / 2;
      const packed = derived.view(
        q.packed,
        `${name}.q4.rows${c}`,
        [rows, blocks, blockSize / 2],
        r * rowBytes,
        rows * rowBytes,
      );
      const scales = derived.view(
        q.scales,
        `${name}.q4_scales.rows${c}`,
        [rows * blocks],
        r * blocks * 4,
        rows * blocks * 4,
      );
      parts.push(nodeOf(packed, scales, rows));
    }
    return g.op('Concat', parts, { axis: -1 }, outName);
  };
  const q4Attrs = (n: number, k: number) => ({ K: k, N: n, bits: 4, block_size: blockSize });
  // f16 compute: each activation is cast to f16 once (q, k and v read the same one), the product back to f32.
  const asF16 = new Map<string, string>();
  const f16Gemm = (x: string, ref: WeightRef, name: string) => {
    let x16 = asF16.get(x);
    if (!x16) asF16.set(x, (x16 = g.op('Cast', [x], { to: DataType.FLOAT16 })));
    const y16 = g.op('Gemm', [x16, g.derived(derived.f16(ref, name))], { transB: 1 });
    return g.op('Cast', [y16], { to: DataType.FLOAT });
  };
  const f16Compute = format === 'f16' && ctx.compute === 'f16';
  let embedRef: WeightRef | undefined;
  let embed16: string | undefined;
  let embedQ4: Q4Tensors | undefined;
  return {
    weight,
    linear: (x, wName, out, inn, bias) => {
      const ref = checked(wName, [out, inn]);
      const y = f16Compute ? f16Gemm(x, ref, wName) : matmul(x, ref, out, inn, wName);
      return bias ? g.op('Add', [y, weight(bias, [out])]) : y;
    },
    embed: (ids) => {
      embedRef = checked(EMBED, [V, H]);
      if (format === 'q4') {
        // The q4 table itself, read as [V, H/2] bytes and [V, H/B] scales: the head's MatMulNBits reuses its bytes.
        const q = (embedQ4 = derived.q4(embedRef, blockSize));
        const data = derived.view(q.packed, `${EMBED}.q4.rows`, [V, H / 2]);
        const scales = derived.view(q.scales, `${EMBED}.q4_scales.rows`, [V, H / blockSize]);
        const attrs = { bits: 4, block_size: blockSize, gather_axis: 0, quantize_axis: 1 };
        return g.op(
          'GatherBlockQuantized',
          [g.derived(data), ids, g.derived(scales)],
          attrs,
          'embedded',
          'com.microsoft',
        );
      }
      embed16 = g.derived(derived.f16(embedRef));
      return g.op('Cast', [g.op('Gather', [embed16, ids], { axis: 0 })], { to: DataType.FLOAT }, 'embedded');
    },
    head: (x) => {
      if (!spec.tied) return matmul(x, checked(LM_HEAD, [V, H]), V, H, LM_HEAD, 'logits');
      if (format === 'f16') return g.op('Gemm', [x, castF32(embed16!)], { transB: 1 }, 'logits');
      return q4MatMul(x, embedQ4!, V, H, 'lm_head.tied', 'logits');
    },
    microsoftOps: format === 'q4',
    derived,
  };
}

export function weightEmitter(ctx: EmitterContext, format: WeightFormat, blockSize: Q4BlockSize): WeightEmitter {
  return format === 'f32' ? f32Emitter(ctx) : derivedEmitter(ctx, format, blockSize);
}
