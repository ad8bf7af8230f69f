/**
 * The WebGPU backward pass of Sens-Merging (src/infer/sens/gpu, shaders/sens-*.wgsl) against its
 * CPU twin (src/infer/sens/ops.ts) kernel by kernel on random small shapes (GQA, head_dim 128,
 * ragged tiles, row windows, a masked tied head), on both kernel variants where there are two
 * (register blocks for CPU adapters, workgroup tiles for real GPUs). The whole pass against the
 * PyTorch goldens: sens-pass.test.ts. No adapter is a failure (requireGpu).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AttentionShape,
  applyRope,
  attentionBackward,
  attentionForward,
  biasSensitivity,
  linearBackwardInput,
  linearForward,
  linearWeightSensitivity,
  rmsNormBackward,
  rmsNormForward,
  ropeTables,
  swigluBackward,
  swigluForward,
} from '../../src/infer/sens/ops';
import { type Buf, SensGpu } from '../../src/infer/sens/gpu/context';
import {
  inputGrad,
  linear,
  rmsNormBackward as gpuNormBackward,
  rmsNormForward as gpuNormForward,
  vectorSensitivity,
  weightSensitivity,
} from '../../src/infer/sens/gpu/encode';
import {
  attentionBackward as gpuAttentionBackward,
  attentionForward as gpuAttentionForward,
  rope,
  swigluBackward as gpuSwigluBackward,
  swigluForward as gpuSwigluForward,
} from '../../src/infer/sens/gpu/encode-rows';
import { SensRun } from '../../src/infer/sens/gpu/run';
import { nodeGpu } from '../../src/node/webgpu-env';
import { requireGpu } from './gpu-env';

await requireGpu();

/** The pass's own choice on this adapter (register kernels on lavapipe), and the tiled kernels of real GPUs. */
let gpu: SensGpu;
let tiled: SensGpu;
beforeAll(async () => {
  gpu = await SensGpu.create(await nodeGpu());
  tiled = await SensGpu.create(await nodeGpu(), { variant: 'tiled' });
});
afterAll(async () => {
  await gpu?.dispose();
  await tiled?.dispose();
});

/** Seeded uniform values in [−scale, scale). */
function random(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  });
}

const f64 = (x: Float32Array) => Float64Array.from(x);

async function read(b: Buf, n: number): Promise<Float32Array> {
  const bytes = await gpu.ctx.begin('test:read').readBack(b.buffer, n * 4);
  return new Float32Array(bytes.buffer, bytes.byteOffset, n);
}

/** Max |a − b| over max |b|: f32 kernels against the f64 twin. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  expect(a.length).toBe(b.length);
  return err / scale;
}

/** Runs `encode` in one op with a fresh SensRun; returns the run's per-tensor sums and probes. */
async function inOp(
  encode: (r: SensRun, op: ReturnType<SensGpu['ctx']['begin']>) => void,
  probes = new Map<string, number[]>(),
  on = gpu,
) {
  const r = new SensRun(on, probes);
  const op = on.ctx.begin('test');
  encode(r, op);
  await op.submit();
  const out = await r.finish();
  r.close();
  return out;
}

describe('sens kernels against the CPU twin', () => {
  it.each([
    [7, 70, 45],
    [3, 128, 64],
    [33, 40, 100],
  ])('fused weight sensitivity, rows %i, in %i, out %i (ragged tiles, probes)', async (rows, inDim, outDim) => {
    const dy = random(rows * outDim, 1);
    const x = random(rows * inDim, 2);
    const w = random(outDim * inDim, 3);
    const flats = [0, 5, inDim + 3, outDim * inDim - 1];
    const wantProbe = { indices: flats, values: flats.map(() => 0) };
    const want = linearWeightSensitivity(f64(dy), f64(x), w, rows, inDim, outDim, wantProbe);
    for (const g of [gpu, tiled]) {
      const bufs = [dy, x, w].map((a) => g.upload(a, 'test'));
      const got = await inOp(
        (r, op) => weightSensitivity(r, op, 'W', { dy: bufs[0]!, x: bufs[1]!, w: bufs[2]!, rows, inDim, outDim }),
        new Map([['W', flats]]),
        g,
      );
      g.release(...bufs);
      expect(Math.abs(got.tensors.get('W')!.abs - want.abs) / want.abs, g.linalg.variant).toBeLessThan(1e-5);
      expect(Math.abs(got.tensors.get('W')!.signed - want.signed) / want.abs).toBeLessThan(1e-5);
      expect(relErr(got.gradients.get('W')!, wantProbe.values)).toBeLessThan(1e-5);
    }
  });

  it.each([
    [7, 70, 45],
    [33, 128, 20],
  ])('linear X·Wᵀ (+ residual) and dY·W (+ acc), rows %i, in %i, out %i, both kernels', async (rows, inDim, outDim) => {
    const [x, w, dy] = [random(rows * inDim, 31), random(outDim * inDim, 32), random(rows * outDim, 33)];
    const [resY, resX] = [random(rows * outDim, 34), random(rows * inDim, 35)];
    const y = linearForward(f64(x), w, rows, inDim, outDim).map((v, i) => v + resY[i]!);
    const dx = linearBackwardInput(f64(dy), w, rows, inDim, outDim).map((v, i) => v + resX[i]!);
    for (const g of [gpu, tiled]) {
      const [xb, wb, dyb, ryb, rxb] = [x, w, dy, resY, resX].map((a) => g.upload(a, 'test'));
      const [yb, dxb] = [g.alloc(rows * outDim, 't'), g.alloc(rows * inDim, 't')];
      await inOp(
        (r, op) => {
          linear(r, op, xb!, wb!, yb, rows, inDim, outDim, ryb);
          inputGrad(r, op, dyb!, wb!, dxb, rows, inDim, outDim, rxb);
        },
        new Map(),
        g,
      );
      const readOn = async (b: Buf, n: number) => {
        const bytes = await g.ctx.begin('test:read').readBack(b.buffer, n * 4);
        return new Float32Array(bytes.buffer, bytes.byteOffset, n);
      };
      expect(relErr(await readOn(yb, rows * outDim), y), g.linalg.variant).toBeLessThan(1e-5);
      expect(relErr(await readOn(dxb, rows * inDim), dx), g.linalg.variant).toBeLessThan(1e-5);
      g.release(xb, wb, dyb, ryb, rxb, yb, dxb);
    }
  });

  it('fused weight sensitivity in row windows under a small binding limit', async () => {
    const tight = await SensGpu.create(await nodeGpu(), { maxBindingBytes: 16 * 1024 });
    const [rows, inDim, outDim] = [7, 70, 100];
    const [dy, x, w] = [random(rows * outDim, 21), random(rows * inDim, 22), random(outDim * inDim, 23)];
    const flats = [3, 40 * inDim + 9, 70 * inDim, outDim * inDim - 2];
    const wantProbe = { indices: flats, values: flats.map(() => 0) };
    const want = linearWeightSensitivity(f64(dy), f64(x), w, rows, inDim, outDim, wantProbe);
    const r = new SensRun(tight, new Map([['W', flats]]));
    const bufs = [dy, x, w].map((a) => tight.upload(a, 'test'));
    const op = tight.ctx.begin('test');
    weightSensitivity(r, op, 'W', { dy: bufs[0]!, x: bufs[1]!, w: bufs[2]!, rows, inDim, outDim });
    await op.submit();
    const got = await r.finish();
    r.close();
    tight.release(...bufs);
    await tight.dispose();
    expect(Math.abs(got.tensors.get('W')!.abs - want.abs) / want.abs).toBeLessThan(1e-5);
    expect(relErr(got.gradients.get('W')!, wantProbe.values)).toBeLessThan(1e-5);
  });

  it('fused weight sensitivity leaves masked rows out (a tied head) and writes kept rows whole', async () => {
    const [rows, inDim, outDim] = [5, 24, 40];
    const dy = random(rows * outDim, 4);
    const x = random(rows * inDim, 5);
    const w = random(outDim * inDim, 6);
    const masked = new Set([1, 17, 39]);
    const mask = Uint32Array.from({ length: outDim }, (_, o) => (masked.has(o) ? 1 : 0));
    // The CPU twin on the rows that are not masked.
    const keepRows = [...Array(outDim).keys()].filter((o) => !masked.has(o));
    const sub = (a: Float32Array, cols: number) =>
      Float32Array.from(keepRows.flatMap((o) => [...a.subarray(o * cols, (o + 1) * cols)]));
    const dyT = Float32Array.from(
      { length: rows * keepRows.length },
      (_, e) => dy[Math.floor(e / keepRows.length) * outDim + keepRows[e % keepRows.length]!]!,
    );
    const want = linearWeightSensitivity(f64(dyT), f64(x), sub(w, inDim), rows, inDim, keepRows.length);
    const bufs = [dy, x, w].map((a) => gpu.upload(a, 'test'));
    const maskBuf = gpu.upload(mask, 'test');
    const out = gpu.alloc(3 * inDim, 'test');
    const got = await inOp((r, op) =>
      weightSensitivity(r, op, 'W', {
        dy: bufs[0]!,
        x: bufs[1]!,
        w: bufs[2]!,
        rows,
        inDim,
        outDim,
        mask: { buf: maskBuf, base: 0, has: (o) => masked.has(o) },
        keep: {
          rows: [
            [17, 0],
            [1, 2],
            [39, 1],
          ],
          out,
        },
      }),
    );
    const kept = await read(out, 3 * inDim);
    gpu.release(...bufs, maskBuf, out);
    expect(Math.abs(got.tensors.get('W')!.abs - want.abs) / want.abs).toBeLessThan(1e-5);
    const gradRow = (o: number) =>
      Array.from({ length: inDim }, (_, i) =>
        [...Array(rows).keys()].reduce((s, t) => s + dy[t * outDim + o]! * x[t * inDim + i]!, 0),
      );
    expect(relErr(kept, [...gradRow(17), ...gradRow(39), ...gradRow(1)])).toBeLessThan(1e-5);
  });

  it('RMSNorm forward and backward (with residual), the weight and a bias sensitivity', async () => {
    const [rows, dim] = [6, 200];
    const x = random(rows * dim, 7, 2);
    const w = random(dim, 8);
    const dy = random(rows * dim, 9);
    const res = random(rows * dim, 10);
    const fw = rmsNormForward(f64(x), w, rows, dim, 1e-6);
    const bw = rmsNormBackward(f64(dy), f64(x), w, fw.inv, rows, dim);
    const bias = biasSensitivity(f64(dy), w, rows, dim);
    const [xb, wb, dyb, rb] = [x, w, dy, res].map((a) => gpu.upload(a, 'test'));
    const [y, inv, dx] = [gpu.alloc(rows * dim, 't'), gpu.alloc(rows, 't'), gpu.alloc(rows * dim, 't')];
    const got = await inOp((r, op) => {
      gpuNormForward(r, op, xb!, wb!, y, inv, rows, dim, 1e-6);
      gpuNormBackward(r, op, 'norm', { dy: dyb!, x: xb!, w: wb!, inv, dx, res: rb! }, rows, dim);
      vectorSensitivity(r, op, 'bias', { a: dyb!, theta: wb!, rows, width: dim });
    });
    expect(relErr(await read(y, rows * dim), fw.y)).toBeLessThan(1e-6);
    expect(
      relErr(
        await read(dx, rows * dim),
        bw.dx.map((v, i) => v + res[i]!),
      ),
    ).toBeLessThan(1e-6);
    gpu.release(xb, wb, dyb, rb, y, inv, dx);
    expect(Math.abs(got.tensors.get('norm')!.abs - bw.sens.abs) / bw.sens.abs).toBeLessThan(1e-5);
    expect(Math.abs(got.tensors.get('bias')!.abs - bias.abs) / bias.abs).toBeLessThan(1e-5);
    expect(Math.abs(got.tensors.get('bias')!.signed - bias.signed) / bias.abs).toBeLessThan(1e-5);
  });

  it.each([
    [9, 4, 2, 128],
    [13, 3, 1, 16],
    [5, 2, 2, 64],
  ])(
    'attention forward and backward with RoPE, rows %i, heads %i, kv heads %i, head_dim %i',
    async (rows, heads, kvHeads, headDim) => {
      const s: AttentionShape = { rows, heads, kvHeads, headDim };
      const q = random(rows * heads * headDim, 11);
      const k = random(rows * kvHeads * headDim, 12);
      const v = random(rows * kvHeads * headDim, 13);
      const dOut = random(rows * heads * headDim, 14);
      const invFreq = Float32Array.from({ length: headDim / 2 }, (_, i) => 10000 ** (-(2 * i) / headDim));
      const table = ropeTables(invFreq, rows);
      const [qc, kc] = [f64(q), f64(k)];
      applyRope(qc, rows, heads, headDim, table.cos, table.sin);
      applyRope(kc, rows, kvHeads, headDim, table.cos, table.sin);
      const o = attentionForward(qc, kc, f64(v), s);
      const want = attentionBackward(f64(dOut), qc, kc, f64(v), s);
      applyRope(want.dq, rows, heads, headDim, table.cos, table.sin, true);
      applyRope(want.dk, rows, kvHeads, headDim, table.cos, table.sin, true);
      const [qb, kb, vb, db] = [q, k, v, dOut].map((a) => gpu.upload(a, 'test'));
      const tb = gpu.upload(Float32Array.from([...table.cos, ...table.sin]), 'test');
      const ob = gpu.alloc(rows * heads * headDim, 't');
      const stats = gpu.alloc(2 * rows * heads, 't');
      const dq = gpu.alloc(rows * heads * headDim, 't');
      const dkv = gpu.alloc(2 * rows * kvHeads * headDim, 't');
      await inOp((r, op) => {
        rope(r, op, qb!, tb, rows, heads, headDim);
        rope(r, op, kb!, tb, rows, kvHeads, headDim);
        gpuAttentionForward(r, op, qb!, kb!, vb!, ob, stats, s);
        gpuAttentionBackward(r, op, { q: qb!, k: kb!, v: vb!, o: ob, stats, dout: db!, dq, dkv }, s);
        rope(r, op, dq, tb, rows, heads, headDim, true);
        rope(r, op, dkv, tb, rows, kvHeads, headDim, true);
      });
      const kvn = rows * kvHeads * headDim;
      const dkvGot = await read(dkv, 2 * kvn);
      expect(relErr(await read(ob, rows * heads * headDim), o)).toBeLessThan(1e-5);
      expect(relErr(await read(dq, rows * heads * headDim), want.dq)).toBeLessThan(1e-5);
      expect(relErr(dkvGot.subarray(0, kvn), want.dk)).toBeLessThan(1e-5);
      expect(relErr(dkvGot.subarray(kvn), want.dv)).toBeLessThan(1e-5);
      gpu.release(qb, kb, vb, db, tb, ob, stats, dq, dkv);
    },
  );

  it('SwiGLU forward and backward', async () => {
    const n = 1000;
    const [gate, up, dm] = [random(n, 15, 4), random(n, 16), random(n, 17)];
    const m = swigluForward(f64(gate), f64(up));
    const { dGate, dUp } = swigluBackward(f64(dm), f64(gate), f64(up));
    const [gb, ub, db] = [gate, up, dm].map((a) => gpu.upload(a, 'test'));
    const [mb, dgb, dub] = [gpu.alloc(n, 't'), gpu.alloc(n, 't'), gpu.alloc(n, 't')];
    await inOp((r, op) => {
      gpuSwigluForward(r, op, gb!, ub!, mb, n);
      gpuSwigluBackward(r, op, db!, gb!, ub!, dgb, dub, n);
    });
    expect(relErr(await read(mb, n), m)).toBeLessThan(1e-6);
    expect(relErr(await read(dgb, n), dGate)).toBeLessThan(1e-6);
    expect(relErr(await read(dub, n), dUp)).toBeLessThan(1e-6);
    gpu.release(gb, ub, db, mb, dgb, dub);
  });
});
