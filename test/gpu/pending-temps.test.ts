/**
 * The WebGPU backend lends a pending sum's f32 values as a temporary of the open operation
 * (src/gpu/backend.ts `f32`): the temporary goes back to the pool when that operation is submitted,
 * so no submit may come between lending it and encoding the kernel that reads it. Here one kernel
 * reads two pending sums with a packed tensor between them: decoding the packed tensor must not
 * submit, or the second sum's temporary can take the first one's buffer and overwrite it.
 * Checked byte for byte against the plain-TS reference backend.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

const cpu = new CpuBackend();

/** n ordinary bf16 words (magnitudes 2^-8 … 2^8, both signs), from `seed`. */
function bf16Words(n: number, seed: number): Uint8Array {
  const w = new Uint16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const exponent = 119 + ((s >>> 8) % 17);
    w[i] = ((s >>> 31) << 15) | (exponent << 7) | ((s >>> 16) & 0x7f);
  }
  return new Uint8Array(w.buffer);
}

describe('pending sums lent as temporaries', () => {
  const backends = useGpuPair();

  it('one kernel over two pending sums and a packed tensor between them = the reference', async () => {
    const n = 300_001;
    const inputs = [0, 1, 2, 3, 4].map((t) => bf16Words(n, 7 + t));
    const ws = [0.5, 1, 0.25];

    const x = await Promise.all(inputs.map((b) => cpu.load(b, 'BF16')));
    const refA = await cpu.weightedSum([x[0]!, x[1]!], [1, -1]);
    const refC = await cpu.weightedSum([x[3]!, x[4]!], [1, -1]);
    const want = await cpu.store(await cpu.weightedSum([refA, x[2]!, refC], ws), 'F32');

    for (const be of [backends.gpu, backends.tight]) {
      const g = await Promise.all(inputs.map((b) => be.load(b, 'BF16')));
      const a = await be.weightedSum([g[0]!, g[1]!], [1, -1]); // pending: packed inputs
      const c = await be.weightedSum([g[3]!, g[4]!], [1, -1]);
      const got = await be.store(await be.weightedSum([a, g[2]!, c], ws), 'F32');
      expect(Buffer.from(got).equals(Buffer.from(want)), be.name).toBe(true);
      for (const t of [...g, a, c]) be.release(t);
    }
  });
});
