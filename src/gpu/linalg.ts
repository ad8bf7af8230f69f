/**
 * Linear algebra on the GPU for the SVD merges: the tiled matmul of shaders/matmul.wgsl, with
 * operands larger than the storage-binding limit streamed in blocks.
 *
 * - Two kernels (entry points of matmul.wgsl): workgroup-memory tiles for real GPUs, register
 *   tiles without workgroup memory for CPU adapters (chosen from the adapter's name).
 * - GpuLinalg.encodeMatmul encodes C = op(A)·op(B) (+ C₀) into any command encoder. The product
 *   is split (rows of C, columns of C, or the reduction dimension K, halving the operand that
 *   does not fit) until every bound range of A, B, C and C₀ fits the binding limit; blocks along
 *   K accumulate into C in order (ACC = 2). Binding offsets are aligned down to the device's
 *   minStorageBufferOffsetAlignment and the remainder goes to the shader as an element offset.
 * - GpuMatOps is a MatOps (src/core/linalg/ops.ts) on a bare device, so the randomized SVD runs
 *   on the GPU in tests and benchmarks; the WebGPU TensorBackend delegates its `matmul` here.
 */
import type { MatOps } from '../core/linalg/ops';
import { BufferUsage, MapModeRead } from './usage';

const MAX_WG = 65535;

/** `tiled`: workgroup-memory tiles (real GPUs); `registers`: no workgroup memory (CPU adapters). */
export type MatmulVariant = 'tiled' | 'registers';
const TILES: Record<MatmulVariant, { rows: number; cols: number; entry: string }> = {
  tiled: { rows: 64, cols: 64, entry: 'main' },
  registers: { rows: 128, cols: 32, entry: 'main_registers' },
};

/** CPU implementations of WebGPU (lavapipe/llvmpipe, SwiftShader), where `registers` is faster. */
export function isCpuAdapter(name: string): boolean {
  return /llvmpipe|lavapipe|swiftshader|software/i.test(name);
}

async function matmulSource(): Promise<string> {
  try {
    const files = import.meta.glob('../../shaders/matmul.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
    const s = Object.values(files)[0];
    if (s) return s;
  } catch {
    // not transformed by Vite: read the file (Node)
  }
  const fsName = 'node:fs/promises';
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
  return fs.readFile(new URL('../../shaders/matmul.wgsl', import.meta.url), 'utf8');
}

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

export class GpuLinalg {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layout: GPUBindGroupLayout;
  private readonly module: GPUShaderModule;
  readonly maxBindingBytes: number;
  private readonly align: number;
  private readonly tile: (typeof TILES)[MatmulVariant];
  dispatches = 0;

  private constructor(
    readonly device: GPUDevice,
    source: string,
    maxBindingBytes: number | undefined,
    readonly variant: MatmulVariant,
  ) {
    this.tile = TILES[variant];
    this.maxBindingBytes = Math.min(maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize);
    this.align = device.limits.minStorageBufferOffsetAlignment;
    this.module = device.createShaderModule({ label: 'wgsl:matmul', code: source });
    const slot = (type: GPUBufferBindingType, binding: number): GPUBindGroupLayoutEntry => ({ binding, visibility: 4 /* COMPUTE */, buffer: { type } });
    this.layout = device.createBindGroupLayout({
      label: 'bgl:matmul',
      entries: [slot('uniform', 0), slot('read-only-storage', 1), slot('read-only-storage', 2), slot('read-only-storage', 3), slot('storage', 4)],
    });
  }

  /** `maxBindingBytes` lowers the binding limit (tests use it to exercise the blocking). */
  static async create(device: GPUDevice, opts: { maxBindingBytes?: number; variant?: MatmulVariant } = {}): Promise<GpuLinalg> {
    return new GpuLinalg(device, await matmulSource(), opts.maxBindingBytes, opts.variant ?? 'tiled');
  }

  private pipeline(): GPUComputePipeline {
    const key = `matmul:${this.variant}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({
        label: `pipeline:${key}`,
        layout: this.device.createPipelineLayout({ label: 'layout:matmul', bindGroupLayouts: [this.layout] }),
        compute: { module: this.module, entryPoint: this.tile.entry },
      });
      this.pipelines.set(key, p);
    }
    return p;
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
      const over = (['a', 'b', 'c'] as const).map((x) => [x, this.bytes(sp[x]) - lim] as const).filter(([, d]) => d > 0).sort((x, y) => y[1] - x[1]);
      const dims = { i: b.i1 - b.i0, j: b.j1 - b.j0, p: b.p1 - b.p0 };
      let split: 'i' | 'j' | 'p' | undefined;
      if (over.length) {
        const which = over[0]![0];
        const prefer: ('i' | 'j' | 'p')[] =
          which === 'a' ? (s.transA ? ['p', 'i'] : ['i', 'p']) : which === 'b' ? (s.transB ? ['j', 'p'] : ['p', 'j']) : ['i', 'j'];
        split = prefer.find((d) => dims[d] > 1);
        if (!split) throw new Error(`matmul: one row of a ${which.toUpperCase()} block exceeds the ${lim}-byte binding limit`);
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

  /**
   * Encodes C = op(A)·op(B) (+ C₀) into `enc`. C must not alias A, B or C₀.
   * Returns the uniform buffers, to destroy once the encoder is submitted.
   */
  encodeMatmul(enc: GPUCommandEncoder, A: GPUBuffer, B: GPUBuffer, C: GPUBuffer, s: MatmulShape, C0?: GPUBuffer): GPUBuffer[] {
    const { m, k, n } = s;
    const temps: GPUBuffer[] = [];
    if (m === 0 || n === 0) return temps;
    if (k === 0) {
      if (C0) enc.copyBufferToBuffer(C0, 0, C, 0, m * n * 4);
      else enc.clearBuffer(C, 0, Math.ceil((m * n * 4) / 4) * 4);
      return temps;
    }
    for (const blk of this.planBlocks(s)) {
      const sp = this.spans(s, blk);
      const bind = (buffer: GPUBuffer, span: readonly number[]) => {
        const offset = Math.floor((span[0]! * 4) / this.align) * this.align;
        return { entry: { buffer, offset, size: span[1]! * 4 - offset }, elem: span[0]! - offset / 4 };
      };
      const a = bind(A, sp.a);
      const b = bind(B, sp.b);
      const c = bind(C, sp.c);
      const c0 = C0 ? bind(C0, sp.c) : a;
      const mode = blk.p0 > 0 ? 2 : C0 ? 1 : 0;
      const params = new Uint32Array([blk.i1 - blk.i0, blk.j1 - blk.j0, blk.p1 - blk.p0, s.transA ? m : k, s.transB ? k : n, n, a.elem, b.elem, c.elem, c0.elem, (s.transA ? 1 : 0) | (s.transB ? 2 : 0), mode]);
      const ub = this.device.createBuffer({ label: 'uniform:matmul', size: params.byteLength, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST });
      this.device.queue.writeBuffer(ub, 0, params);
      temps.push(ub);
      const group = this.device.createBindGroup({
        label: 'bg:matmul',
        layout: this.layout,
        entries: [{ binding: 0, resource: { buffer: ub } }, ...[a, b, c0, c].map((x, i) => ({ binding: i + 1, resource: x.entry }))],
      });
      const pass = enc.beginComputePass({ label: 'matmul' });
      pass.setPipeline(this.pipeline());
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(Math.ceil((blk.j1 - blk.j0) / this.tile.cols), Math.ceil((blk.i1 - blk.i0) / this.tile.rows));
      pass.end();
      this.dispatches++;
    }
    return temps;
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
  private errors: Promise<GPUError | null>[] = [];

  constructor(
    readonly device: GPUDevice,
    readonly linalg: GpuLinalg,
    name = 'webgpu',
  ) {
    this.name = name;
  }

  static async create(device: GPUDevice, opts: { maxBindingBytes?: number; name?: string; variant?: MatmulVariant } = {}): Promise<GpuMatOps> {
    return new GpuMatOps(device, await GpuLinalg.create(device, opts), opts.name);
  }

  private alloc(n: number, label: string): GpuMat {
    const buffer = this.device.createBuffer({ label, size: Math.max(16, Math.ceil((n * 4) / 16) * 16), usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
    return { buffer, length: n, released: false };
  }

  private async check(): Promise<void> {
    const errs = await Promise.all(this.errors);
    this.errors = [];
    const e = errs.find((x) => x);
    if (e) throw new Error(`WebGPU error in matmul: ${e.message}`);
  }

  async upload(x: Float32Array): Promise<GpuMat> {
    const t = this.alloc(x.length, 'matrix');
    if (x.length) this.device.queue.writeBuffer(t.buffer, 0, x.buffer, x.byteOffset, x.byteLength);
    return t;
  }

  async download(x: GpuMat): Promise<Float32Array> {
    const bytes = Math.ceil((x.length * 4) / 4) * 4;
    const rb = this.device.createBuffer({ label: 'readback', size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder({ label: 'download' });
    if (bytes) enc.copyBufferToBuffer(x.buffer, 0, rb, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await rb.mapAsync(MapModeRead);
    const out = new Float32Array(rb.getMappedRange().slice(0, bytes));
    rb.unmap();
    rb.destroy();
    await this.check();
    return out;
  }

  async matmul(a: GpuMat, b: GpuMat, m: number, k: number, n: number, transA: boolean, transB: boolean, acc?: GpuMat): Promise<GpuMat> {
    const out = this.alloc(m * n, 'matmul');
    this.device.pushErrorScope('validation');
    const enc = this.device.createCommandEncoder({ label: 'matmul' });
    const temps = this.linalg.encodeMatmul(enc, a.buffer, b.buffer, out.buffer, { m, k, n, transA, transB }, acc?.buffer);
    this.device.queue.submit([enc.finish()]);
    this.errors.push(this.device.popErrorScope());
    for (const t of temps) t.destroy();
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
    x.buffer.destroy();
  }
}
