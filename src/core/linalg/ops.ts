/**
 * The matrix operations the SVD code runs on, over any TensorBackend: handles are row-major
 * 2-D f32 matrices stored as the backend's 1-D tensors. Only the products touch the big
 * matrices; factors of size (k+p)² come to the CPU (download) and go back (upload).
 * A backend without `matmul` still works: its matrices make a round trip through the CPU
 * reference kernel (src/core/kernels/matmul.ts).
 */
import { matmul as cpuMatmul } from '../kernels/matmul';
import type { TensorBackend } from '../merge/backend';

export interface MatOps<T> {
  readonly name: string;
  upload(x: Float32Array): Promise<T>;
  download(x: T): Promise<Float32Array>;
  /** op(A)·op(B) (+ C₀): A [m,k] (transA: [k,m]), B [k,n] (transB: [n,k]), C₀ and result [m,n]. */
  matmul(a: T, b: T, m: number, k: number, n: number, transA: boolean, transB: boolean, acc?: T): Promise<T>;
  /** Σ w_t x_t (same-size matrices). */
  combine(xs: readonly T[], ws: readonly number[]): Promise<T>;
  /** ‖x‖²_F */
  sumSquares(x: T): Promise<number>;
  release(x: T): void;
}

/** The shape of op(A)·op(B): A [m, k] (transA: stored [k, m]), B [k, n] (transB: stored [n, k]); result [m, n]. */
export interface ProductShape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
}

/** op(A)·op(B) (+ acc) with its shape spelled out: `product(ops, a, b, { m, k, n, transA: true })`. */
export function product<T>(
  ops: MatOps<T>,
  a: T,
  b: T,
  { m, k, n, transA = false, transB = false }: ProductShape,
  acc?: T,
): Promise<T> {
  return ops.matmul(a, b, m, k, n, transA, transB, acc);
}

function bytesOf(x: Float32Array): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

export function matOps<T>(be: TensorBackend<T>): MatOps<T> {
  const upload = (x: Float32Array) => be.load(bytesOf(x), 'F32');
  const download = async (x: T) => {
    const b = await be.store(x, 'F32');
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  return {
    name: be.name,
    upload,
    download,
    async matmul(a, b, m, k, n, transA, transB, acc) {
      if (be.matmul) return be.matmul(a, b, m, k, n, transA, transB, acc);
      const [ha, hb, hc] = await Promise.all([download(a), download(b), acc ? download(acc) : undefined]);
      return upload(cpuMatmul(ha, hb, m, k, n, transA, transB, hc));
    },
    combine: (xs, ws) => be.weightedSum(xs, ws),
    sumSquares: (x) => be.dot(x, x),
    release: (x) => be.release(x),
  };
}
