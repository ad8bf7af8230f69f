/**
 * The ONNX graph WRITER: records the nodes a builder emits (./graph.ts builds the decoder),
 * holds the initializers (small constants inline, model weights as EXTERNAL data pointing into
 * the safetensors shards), drops what no output reads, and serialises the model with
 * ./onnx-proto.ts. Data path: builder → `op`/`const*`/`external` → `encode(outputs)` → bytes.
 */
import type { DType } from '../core/dtype';
import {
  AttrType,
  DataType,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
  encodeModel,
} from './onnx-proto';

/** Where a weight's bytes live: a file mounted as ONNX external data, at an absolute offset. */
export interface WeightRef {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly location: string;
  readonly offset: number;
  readonly byteLength: number;
}

/** A tensor the lab made (./derived-weights.ts) in an external-data file of its own, in its own type. */
export interface DerivedTensor {
  readonly name: string;
  readonly dataType: DataType;
  readonly shape: readonly number[];
  readonly location: string;
  readonly offset: number;
  readonly byteLength: number;
}

/** An attribute value: int, ints, float ({f}) or floats ({floats}). */
export type Attr = number | number[] | { f: number } | { floats: number[] };

/** What the model says about itself, besides its nodes and initializers. */
export interface GraphHeader {
  readonly name: string;
  readonly docString: string;
  readonly opsets: readonly { domain: string; version: number }[];
  readonly inputs: readonly ValueInfoProto[];
  readonly outputs: readonly ValueInfoProto[];
}

const ONNX_DTYPE: Record<DType, DataType> = { F32: DataType.FLOAT, F16: DataType.FLOAT16, BF16: DataType.BFLOAT16 };

function attribute(name: string, v: Attr): AttributeProto {
  if (typeof v === 'number') return { name, type: AttrType.INT, i: v };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  return 'f' in v ? { name, type: AttrType.FLOAT, f: v.f } : { name, type: AttrType.FLOATS, floats: v.floats };
}

export class GraphWriter {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private n = 0;

  /** Appends a node with one output (named `out`, or after the op and a counter); returns the output. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string, domain?: string): string {
    const output = out ?? `${opType.toLowerCase()}_${this.n}`;
    const attrList = Object.entries(attrs).map(([name, v]) => attribute(name, v));
    this.nodes.push({
      name: `n${this.n++}_${opType}`,
      opType,
      input: inputs,
      output: [output],
      attribute: attrList,
      ...(domain ? { domain } : {}),
    });
    return output;
  }

  /** A node with several outputs (names given). */
  opN(opType: string, inputs: string[], outputs: string[], attrs: Record<string, number>, domain?: string): string[] {
    const attrList = Object.entries(attrs).map(([name, v]) => attribute(name, v));
    this.nodes.push({
      name: `n${this.n++}_${opType}`,
      opType,
      input: inputs,
      output: outputs,
      attribute: attrList,
      ...(domain ? { domain } : {}),
    });
    return outputs;
  }

  constI64(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.inline(name, dims, DataType.INT64, new BigInt64Array(values.map((v) => BigInt(v))));
  }

  constI32(name: string, values: number[], dims: number[] = [values.length]): string {
    return this.inline(name, dims, DataType.INT32, Int32Array.from(values));
  }

  constF32(name: string, values: Float32Array | number[], dims: number[] = [values.length]): string {
    return this.inline(name, dims, DataType.FLOAT, Float32Array.from(values));
  }

  /** A weight read in place from its shard; F16/BF16 get a Cast to f32 (ORT folds it). Returns the f32 name. */
  external(w: WeightRef): string {
    this.initializers.push({
      name: w.name,
      dims: [...w.shape],
      dataType: ONNX_DTYPE[w.dtype],
      dataLocation: 1,
      externalData: [
        { key: 'location', value: w.location },
        { key: 'offset', value: String(w.offset) },
        { key: 'length', value: String(w.byteLength) },
      ],
    });
    return w.dtype === 'F32' ? w.name : this.op('Cast', [w.name], { to: DataType.FLOAT }, `${w.name}.f32`);
  }

  /** A tensor the lab made (./derived-weights.ts), in its own type with no Cast. Returns its name. */
  derived(t: DerivedTensor): string {
    this.initializers.push({
      name: t.name,
      dims: [...t.shape],
      dataType: t.dataType,
      dataLocation: 1,
      externalData: [
        { key: 'location', value: t.location },
        { key: 'offset', value: String(t.offset) },
        { key: 'length', value: String(t.byteLength) },
      ],
    });
    return t.name;
  }

  /** The serialised model: only the nodes and initializers that the header's outputs depend on. */
  encode(header: GraphHeader): Uint8Array {
    this.prune(header.outputs.map((o) => o.name));
    const model: ModelProto = {
      irVersion: 8,
      producerName: 'merge-lab',
      producerVersion: '0.1.0',
      docString: header.docString,
      opsetImport: [...header.opsets],
      graph: {
        name: header.name,
        node: this.nodes,
        initializer: this.initializers,
        input: [...header.inputs],
        output: [...header.outputs],
      },
    };
    return encodeModel(model);
  }

  private inline(
    name: string,
    dims: number[],
    dataType: DataType,
    values: BigInt64Array | Int32Array | Float32Array,
  ): string {
    this.initializers.push({ name, dims, dataType, rawData: new Uint8Array(values.buffer) });
    return name;
  }

  /** Drops nodes whose outputs nothing reads, and initializers no node reads (the builder writes
   *  shared helpers for both attention forms; each form uses part of them). */
  private prune(graphOutputs: string[]): void {
    const live = new Set(graphOutputs);
    const kept: NodeProto[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i]!;
      if (!n.output.some((o) => live.has(o))) continue;
      kept.push(n);
      for (const inp of n.input) live.add(inp);
    }
    this.nodes.splice(0, this.nodes.length, ...kept.reverse());
    const used = this.initializers.filter((t) => live.has(t.name));
    this.initializers.splice(0, this.initializers.length, ...used);
  }
}
