/**
 * One real tensor above lavapipe's 128 MiB storage-binding limit (no lowered limits): a
 * 2^25 + 1001-element bf16 pair (134 MB as f32 working tensors) goes through load, delta, the
 * radix-select histogram passes, magnitude band and store. The backend splits every binding into
 * windows and folds the 131 k-workgroup dispatches into 2-D grids; the result must equal the CPU.
 */
import { describe, expect, it } from 'vitest';
import { decodeToF32, encodeFromF32 } from '../../src/core/dtype';
import { DELTA, delta } from '../../src/core/kernels/delta';
import { MAGNITUDE_BAND, magnitudeBand } from '../../src/core/kernels/magnitude-band';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { kthLargestAbs } from '../../src/core/merge/select';
import { randomFloats } from '../helpers/checkpoints';
import { gpuBackend, requireGpu } from './gpu-env';

await requireGpu();

describe('a tensor above the storage-binding limit', () => {
  it('TIES trim of a 134 MB (f32) tensor equals the CPU reference, threshold exact', async () => {
    const gpu = await gpuBackend();
    const n = 2 ** 25 + 1001;
    expect(n * 4).toBeGreaterThan(gpu.adapter.limits.maxStorageBufferBindingSize);
    const baseBytes = encodeFromF32(randomFloats(n, 1, 0.5), 'BF16');
    const modelBytes = encodeFromF32(randomFloats(n, 2, 0.5), 'BF16');
    const dispatchesBefore = gpu.stats().dispatches;
    const base = await gpu.load(baseBytes, 'BF16');
    const model = await gpu.load(modelBytes, 'BF16');
    const d = await gpu.elementwise(DELTA, [model, base], {});
    const k = Math.floor(0.1 * n);
    const threshold = await kthLargestAbs(gpu, (visit) => visit(d), k);
    const trimmed = await gpu.elementwise(MAGNITUDE_BAND, [d], { lo: threshold, hi: Infinity });
    const out = await gpu.store(trimmed, 'BF16');
    expect(gpu.stats().dispatches - dispatchesBefore).toBeGreaterThan(7); // windows, not one dispatch each

    const cd = delta(decodeToF32(modelBytes, 'BF16'), decodeToF32(baseBytes, 'BF16'));
    const ct = await kthLargestAbs(new CpuBackend(), (visit) => visit(cd), k);
    expect(threshold).toBe(ct);
    const want = encodeFromF32(magnitudeBand(cd, ct, Infinity), 'BF16');
    expect(Buffer.from(out).equals(Buffer.from(want))).toBe(true);
    for (const t of [base, model, d, trimmed]) gpu.release(t);
    await gpu.dispose();
  }, 180_000);
});
