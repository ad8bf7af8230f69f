/**
 * Each step of the sensitivity pass encoded into a GpuOp, one function per CPU-twin operation of
 * src/infer/sens/ops.ts (shapes as there: row-major [rows, cols], a row per token, f32 here).
 * Linear products: on CPU adapters the register-block kernel of sens-linear.wgsl, elsewhere (or
 * past one binding) the project's tiled matmul (shaders/matmul.wgsl, which splits operands past
 * the binding limit); everything else through shaders/sens-*.wgsl.
 */
import { GpuError } from '../../../gpu/device';
import type { GpuOp } from '../../../gpu/op';
import type { Buf } from './context';
import type { SensRun } from './run';

const ceil = (a: number, b: number) => Math.ceil(a / b);
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The register-block kernel (sens-linear.wgsl) on CPU adapters when every operand fits one binding;
 * the project's tiled matmul otherwise (real GPUs, or operands past the binding limit).
 */
function registerLinear(
  r: SensRun,
  op: GpuOp,
  entry: 'forward' | 'input_grad',
  t: { x: Buf; w: Buf; out: Buf; res?: Buf | undefined },
  rows: number,
  inDim: number,
  outDim: number,
): boolean {
  const cols = entry === 'forward' ? outDim : inDim;
  const widest = Math.max(t.x.size, t.w.size, t.out.size, t.res?.size ?? 0);
  if (!r.gpu.registers || widest > r.gpu.maxBindingBytes) return false;
  op.dispatch('sens-linear', {
    entry,
    uniforms: { rows, inDim, outDim, residual: t.res ? 1 : 0 },
    bind: { x: t.x, w: t.w, res: t.res ?? r.none, out: t.out },
    workgroups: ceil(ceil(rows, 8) * ceil(cols, 8), 64),
  });
  return true;
}

/** Y[rows, out] = X[rows, in]·Wᵀ (W stored [out, in]) (+ residual). */
export function linear(
  r: SensRun,
  op: GpuOp,
  x: Buf,
  w: Buf,
  y: Buf,
  rows: number,
  inDim: number,
  outDim: number,
  residual?: Buf,
) {
  if (registerLinear(r, op, 'forward', { x, w, out: y, res: residual }, rows, inDim, outDim)) return;
  const s = { m: rows, k: inDim, n: outDim, transA: false, transB: true };
  r.gpu.linalg.encodeMatmul(op, x.buffer, w.buffer, y.buffer, s, residual?.buffer);
}

/** dX[rows, in] = dY[rows, out]·W (+ acc). */
export function inputGrad(
  r: SensRun,
  op: GpuOp,
  dy: Buf,
  w: Buf,
  dx: Buf,
  rows: number,
  inDim: number,
  outDim: number,
  acc?: Buf,
) {
  if (registerLinear(r, op, 'input_grad', { x: dy, w, out: dx, res: acc }, rows, inDim, outDim)) return;
  const s = { m: rows, k: outDim, n: inDim, transA: false, transB: false };
  r.gpu.linalg.encodeMatmul(op, dy.buffer, w.buffer, dx.buffer, s, acc?.buffer);
}

export interface WeightSensArgs {
  /** dY [rows, dyStride]: columns 0 … outDim−1 are this weight's outputs. */
  dy: Buf;
  dyStride?: number;
  /** X [rows, inDim]. */
  x: Buf;
  /** W [outDim, inDim]. */
  w: Buf;
  rows: number;
  inDim: number;
  outDim: number;
  /** Flat index of W's first element in the tensor `name` (a head chunk's), for the probes. */
  flatOffset?: number;
  /** Rows left out of the sum and the probes (u32 per row from maskBase; the tied head's kept rows). */
  mask?: { buf: Buf; base: number; has: (row: number) => boolean };
  /** Gradient rows to write whole: [row of W, destination row of out]. */
  keep?: { rows: readonly (readonly [number, number])[]; out: Buf };
}

/** Σ|W⊙G| and ΣW⊙G of G = dYᵀX, tile by tile (sens-weight.wgsl), in row blocks that fit a binding. */
export function weightSensitivity(r: SensRun, op: GpuOp, name: string, a: WeightSensArgs): void {
  const { rows, inDim, outDim } = a;
  const rowBytes = inDim * 4;
  // Windows of whole rows whose start offsets keep the device's binding alignment.
  const align = r.gpu.ctx.offsetAlignment;
  const granule = align / gcd(rowBytes, align);
  const step = Math.floor(r.gpu.maxBindingBytes / rowBytes / granule) * granule;
  if (step === 0) throw new GpuError(`${name}: ${granule} rows of ${inDim} values exceed the storage-binding limit`);
  const flat0 = a.flatOffset ?? 0;
  for (let base = 0; base < outDim; base += step) {
    const count = Math.min(step, outDim - base);
    const w = { buffer: a.w.buffer, offset: base * rowBytes, size: count * rowBytes };
    const uniforms = {
      rows,
      inDim,
      dyStride: a.dyStride ?? outDim,
      rowBase: base,
      outCount: count,
      slot: 0,
      useMask: a.mask ? 1 : 0,
      maskBase: a.mask?.base ?? 0,
      probeCount: 0,
      probeSlot: 0,
    };
    const bind = { dy: a.dy, x: a.x, w, mask: a.mask?.buf ?? r.none, idx: r.none, out: r.spare[0] };
    const grid = [ceil(inDim, 32), ceil(count, 32)] as const;
    const slot = r.partial(name, grid[0] * grid[1]);
    op.dispatch('sens-weight', {
      entry: r.gpu.registers ? 'main_registers' : 'main',
      uniforms: { ...uniforms, slot: slot.index },
      bind: { ...bind, results: slot.buf },
      workgroups: r.gpu.registers ? ceil(grid[0] * grid[1], 256) : grid,
    });
    const probes = r.probeList(name, (f) => {
      const local = f - flat0 - base * inDim;
      const inBlock = local >= 0 && local < count * inDim;
      return inBlock && !a.mask?.has(base + Math.floor(local / inDim)) ? local : undefined;
    });
    if (probes) {
      const idx = r.gpu.uploadTemp(op, probes.local, 'sens:probe-idx');
      const out = r.results.take(probes.ks.length);
      r.placeProbes(name, probes.ks, out);
      op.dispatch('sens-weight', {
        entry: 'probe',
        uniforms: { ...uniforms, probeCount: probes.ks.length, probeSlot: out.index },
        bind: { ...bind, idx, results: out.buf },
        workgroups: ceil(probes.ks.length, 64),
      });
    }
    const kept = a.keep?.rows.filter(([row]) => row >= base && row < base + count) ?? [];
    if (kept.length) {
      const idx = r.gpu.uploadTemp(
        op,
        Uint32Array.from(kept.flatMap(([row, dest]) => [row - base, dest])),
        'sens:keep-idx',
      );
      op.dispatch('sens-weight', {
        entry: 'rows',
        uniforms: { ...uniforms, probeCount: kept.length },
        bind: { ...bind, idx, results: r.spare[1], out: a.keep!.out },
        workgroups: [ceil(inDim, 64), kept.length],
      });
    }
  }
}

/** RMSNorm forward: y and the rows' 1/rms. */
export function rmsNormForward(
  r: SensRun,
  op: GpuOp,
  x: Buf,
  w: Buf,
  y: Buf,
  inv: Buf,
  rows: number,
  dim: number,
  eps: number,
) {
  op.dispatch('sens-norm', {
    entry: 'forward',
    uniforms: { rows, dim, eps, residual: 0 },
    bind: { x, w, dy: r.none, res: r.none, inv, out: y },
    workgroups: [rows, 1],
  });
}

/** RMSNorm input gradient into dx (+ res), and the weight's sensitivity (column sums, then the fold). */
export function rmsNormBackward(
  r: SensRun,
  op: GpuOp,
  name: string,
  t: { dy: Buf; x: Buf; w: Buf; inv: Buf; dx: Buf; res?: Buf },
  rows: number,
  dim: number,
) {
  op.dispatch('sens-norm', {
    entry: 'backward',
    uniforms: { rows, dim, eps: 0, residual: t.res ? 1 : 0 },
    bind: { x: t.x, w: t.w, dy: t.dy, res: t.res ?? r.none, inv: t.inv, out: t.dx },
    workgroups: [rows, 1],
  });
  vectorSensitivity(r, op, name, { a: t.dy, b: t.x, scale: t.inv, theta: t.w, rows, width: dim });
}

/** A bias's (b absent) or a norm weight's gradient as column sums over the rows, folded with θ. */
export function vectorSensitivity(
  r: SensRun,
  op: GpuOp,
  name: string,
  t: { a: Buf; b?: Buf; scale?: Buf; theta: Buf; rows: number; width: number },
) {
  const gBuf = r.gpu.temp(op, t.width, 'sens:vector-grad');
  const uniforms = {
    rows: t.rows,
    width: t.width,
    mode: t.b ? 1 : 0,
    n: t.width,
    slot: 0,
    probeCount: 0,
    probeSlot: 0,
  };
  op.dispatch('sens-vector', {
    entry: 'column',
    uniforms,
    bind: {
      a: t.a,
      b: t.b ?? r.none,
      scale: t.scale ?? r.none,
      theta: r.none,
      idx: r.none,
      g: gBuf,
      results: r.spare[0],
    },
    workgroups: ceil(t.width, 64),
  });
  fold(r, op, name, gBuf, t.theta, t.width);
}

/**
 * (Σ|θ⊙g|, Σθ⊙g) partials of a gradient that exists (a vector, or the used embedding rows), and its
 * probes; `local` maps a probe's flat index in the tensor to an index of g (default: the same).
 */
export function fold(
  r: SensRun,
  op: GpuOp,
  name: string,
  g: Buf,
  theta: Buf,
  n: number,
  local: (flat: number) => number | undefined = (f) => f,
) {
  const groups = ceil(n, 4096);
  const probes = r.probeList(name, (f) => {
    const i = local(f);
    return i !== undefined && i < n ? i : undefined;
  });
  const count = probes?.ks.length ?? 0;
  const slot = r.partial(name, groups, count);
  if (probes) r.placeProbes(name, probes.ks, slot, 2 * groups);
  const idx = probes ? r.gpu.uploadTemp(op, probes.local, 'sens:probe-idx') : r.none;
  op.dispatch('sens-vector', {
    entry: 'fold',
    uniforms: {
      rows: 0,
      width: 0,
      mode: 0,
      n,
      slot: slot.index,
      probeCount: count,
      probeSlot: slot.index + 2 * groups,
    },
    bind: { a: r.none, b: r.none, scale: r.none, theta, idx, g, results: slot.buf },
    workgroups: groups,
  });
}
