/**
 * Linear algebra on the GPU for the SVD merges: the tiled matmul of shaders/matmul.wgsl, with
 * operands larger than the storage-binding limit streamed in blocks. It runs on the same GpuContext
 * (pipeline cache, buffer pools, shader loader, error checks) as the TensorBackend.
 *
 * - Two entry points of matmul.wgsl: workgroup-memory tiles for real GPUs, register tiles without
 *   workgroup memory for CPU adapters (chosen from the adapter's name, device.ts).
 * - GpuLinalg.encodeMatmul encodes C = op(A)·op(B) (+ C₀) into a GpuOp. The product is split
 *   (rows of C, columns of C, or the reduction dimension K, halving the operand that does not fit)
 *   until every bound range of A, B, C and C₀ fits the binding limit; blocks along K accumulate
 *   into C in order (acc = 2). Binding offsets are aligned down to the device's
 *   minStorageBufferOffsetAlignment and the remainder goes to the shader as an element offset.
 * - GpuMatOps is a MatOps (src/core/linalg/ops.ts) on a bare device, so the randomized SVD runs
 *   on the GPU in tests and benchmarks; the WebGPU TensorBackend delegates its `matmul` here.
 */
import type { MatOps } from '../core/linalg/ops';
import { GpuContext } from './context';
import { GpuError } from './device';
import type { GpuOp } from './op';

const MAX_WG = 65535;

/** `tiled`: workgroup-memory tiles (real GPUs); `registers`: no workgroup memory (CPU adapters). */
export type MatmulVariant = 'tiled' | 'registers';
const TILES = {
  tiled: { rows: 64, cols: 64, entry: 'main' },
  registers: { rows: 128, cols: 32, entry: 'main_registers' },
} as const;

interface Block {
  i0: number;
  i1: number;
  j0: number;
  j1: number;
  p0: number;
  p1: number;
}

export interface MatmulShape {
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
}

export interface GpuLinalgOptions {
  /** Lowers the binding limit (tests use it to exercise the blocking). */
  maxBindingBytes?: number;
  variant?: MatmulVariant;
}

export class GpuLinalg {
  readonly maxBindingBytes: number;
  readonly variant: MatmulVariant;
  private readonly align: number;
  private readonly tile: (typeof TILES)[MatmulVariant];
  dispatches = 0;

  constructor(gpu: GpuContext, opts: GpuLinalgOptions = {}) {
    this.variant = opts.variant ?? 'tiled';
    this.tile = TILES[this.variant];
    this.maxBindingBytes = Math.min(opts.maxBindingBytes ?? Infinity, gpu.maxBindingBytes);
    this.align = gpu.offsetAlignment;
  }

  /** Element ranges [start, end) of each operand a block reads or writes. */
  private spans(s: MatmulShape, b: Block) {
    const { m, k, n, transA, transB } = s;
    return {
      a: transA ? [b.p0 * m + b.i0, (b.p1 - 1) * m + b.i1] : [b.i0 * k + b.p0, (b.i1 - 1) * k + b.p1],
      b: transB ? [b.j0 * k + b.p0, (b.j1 - 1) * k + b.p1] : [b.p0 * n + b.j0, (b.p1 - 1) * n + b.j1],
      c: [b.i0 * n + b.j0, (b.i1 - 1) * n + b.j1],
    } as const;
  }

  private bytes(span: readonly [number, number] | readonly number[]): number {
    const start = Math.floor((span[0]! * 4) / this.align) * this.align;
    return span[1]! * 4 - start;
  }

  /** Splits the product until every operand range fits the binding limit (depth-first, K ascending). */
  planBlocks(s: MatmulShape): Block[] {
    const out: Block[] = [];
    const lim = this.maxBindingBytes;
    const visit = (b: Block) => {
      const sp = this.spans(s, b);
      const over = (['a', 'b', 'c'] as const)
        .map((x) => [x, this.bytes(sp[x]) - lim] as const)
        .filter(([, d]) => d > 0)
        .sort((x, y) => y[1] - x[1]);
      const dims = { i: b.i1 - b.i0, j: b.j1 - b.j0, p: b.p1 - b.p0 };
      let split: 'i' | 'j' | 'p' | undefined;
      if (over.length) {
        const which = over[0]![0];
        const prefer: ('i' | 'j' | 'p')[] =
          which === 'a'
            ? s.transA
              ? ['p', 'i']
              : ['i', 'p']
            : which === 'b'
              ? s.transB
                ? ['j', 'p']
                : ['p', 'j']
              : ['i', 'j'];
        split = prefer.find((d) => dims[d] > 1);
        if (!split)
          throw new GpuError(`matmul: one row of a ${which.toUpperCase()} block exceeds the ${lim}-byte binding limit`);
      } else if (Math.ceil(dims.i / this.tile.rows) > MAX_WG) split = 'i';
      else if (Math.ceil(dims.j / this.tile.cols) > MAX_WG) split = 'j';
      if (!split) {
        out.push(b);
        return;
      }
      const lo = split === 'i' ? b.i0 : split === 'j' ? b.j0 : b.p0;
      const mid = lo + Math.floor(dims[split] / 2);
      const key0 = `${split}0` as 'i0' | 'j0' | 'p0';
      const key1 = `${split}1` as 'i1' | 'j1' | 'p1';
      visit({ ...b, [key1]: mid });
      visit({ ...b, [key0]: mid });
    };
    visit({ i0: 0, i1: s.m, j0: 0, j1: s.n, p0: 0, p1: s.k });
    return out;
  }

  /** Encodes C = op(A)·op(B) (+ C₀) into `op`. C must not alias A, B or C₀. */
  encodeMatmul(op: GpuOp, A: GPUBuffer, B: GPUBuffer, C: GPUBuffer, s: MatmulShape, C0?: GPUBuffer): void {
    const { m, k, n } = s;
    if (m === 0 || n === 0) return;
    if (k === 0) {
      if (C0) op.enc.copyBufferToBuffer(C0, 0, C, 0, m * n * 4);
      else op.enc.clearBuffer(C, 0, m * n * 4);
      return;
    }
    for (const blk of this.planBlocks(s)) {
      const sp = this.spans(s, blk);
      const bind = (buffer: GPUBuffer, span: readonly number[]) => {
        const offset = Math.floor((span[0]! * 4) / this.align) * this.align;
        return { range: { buffer, offset, size: span[1]! * 4 - offset }, elem: span[0]! - offset / 4 };
      };
      const a = bind(A, sp.a);
      const b = bind(B, sp.b);
      const c = bind(C, sp.c);
      const c0 = C0 ? bind(C0, sp.c) : a;
      op.dispatch('matmul', {
        entry: this.tile.entry,
        uniforms: {
          M: blk.i1 - blk.i0,
          N: blk.j1 - blk.j0,
          K: blk.p1 - blk.p0,
          lda: s.transA ? m : k,
          ldb: s.transB ? k : n,
          ldc: n,
          aOff: a.elem,
          bOff: b.elem,
          cOff: c.elem,
          c0Off: c0.elem,
          flags: (s.transA ? 1 : 0) | (s.transB ? 2 : 0),
          acc: blk.p0 > 0 ? 2 : C0 ? 1 : 0,
        },
        bind: { a: a.range, b: b.range, c0: c0.range, c: c.range },
        workgroups: [Math.ceil((blk.j1 - blk.j0) / this.tile.cols), Math.ceil((blk.i1 - blk.i0) / this.tile.rows)],
      });
      this.dispatches++;
    }
  }
}

/** A row-major f32 matrix in a GPU buffer (same fields as the backend's GpuTensor). */
export interface GpuMat {
  readonly buffer: GPUBuffer;
  readonly length: number;
  released: boolean;
}

/** MatOps on a bare GPU device: the randomized SVD's products on the GPU, small factors on the CPU. */
export class GpuMatOps implements MatOps<GpuMat> {
  readonly name: string;

  constructor(
    readonly gpu: GpuContext,
    readonly linalg: GpuLinalg,
    name = 'webgpu',
  ) {
    this.name = name;
  }

  static async create(device: GPUDevice, opts: GpuLinalgOptions & { name?: string } = {}): Promise<GpuMatOps> {
    const gpu = await GpuContext.create(device);
    return new GpuMatOps(gpu, new GpuLinalg(gpu, opts), opts.name);
  }

  private alloc(n: number, label: string): GpuMat {
    return { buffer: this.gpu.storage.acquire(Math.max(4, n * 4), label), length: n, released: false };
  }

  async upload(x: Float32Array): Promise<GpuMat> {
    this.gpu.check();
    const t = this.alloc(x.length, 'matrix');
    if (x.length) this.gpu.upload(t.buffer, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    return t;
  }

  async download(x: GpuMat): Promise<Float32Array> {
    if (x.length === 0) {
      await this.gpu.sync();
      return new Float32Array(0);
    }
    const bytes = await this.gpu.begin('download').readBack(x.buffer, x.length * 4);
    return new Float32Array(bytes.buffer, bytes.byteOffset, x.length);
  }

  async matmul(
    a: GpuMat,
    b: GpuMat,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
    acc?: GpuMat,
  ): Promise<GpuMat> {
    const out = this.alloc(m * n, 'matmul');
    const op = this.gpu.begin('matmul');
    this.linalg.encodeMatmul(op, a.buffer, b.buffer, out.buffer, { m, k, n, transA, transB }, acc?.buffer);
    void op.submit();
    return out;
  }

  async combine(xs: readonly GpuMat[], ws: readonly number[]): Promise<GpuMat> {
    const hs = await Promise.all(xs.map((x) => this.download(x)));
    const out = new Float32Array(hs[0]?.length ?? 0);
    hs.forEach((h, t) => h.forEach((v, i) => (out[i]! += ws[t]! * v)));
    return this.upload(out);
  }

  async sumSquares(x: GpuMat): Promise<number> {
    return (await this.download(x)).reduce((s, v) => s + v * v, 0);
  }

  release(x: GpuMat): void {
    if (x.released) return;
    x.released = true;
    if (!this.gpu.isDisposed) this.gpu.storage.release(x.buffer);
  }
}
