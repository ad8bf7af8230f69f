/**
 * issue 19 on WebGPU (lavapipe): nearswap against mergekit's formula and the CPU reference (its
 * division is within 2.5 ulp in WGSL, so a few ulp rather than bit for bit), and the kernel on a
 * large vector on a windowed adapter.
 */
import { describe, expect, it } from 'vitest';
import { NEARSWAP, nearswap } from '../../src/core/kernels/nearswap';
import { randomFloats } from '../helpers/checkpoints';
import { nearswapExpected, runNearswap } from '../helpers/nearswap-reference';
import { expectParity } from './parity';
import { requireGpu, useGpuPair } from './gpu-env';

await requireGpu();

describe('nearswap on WebGPU', () => {
  const backends = useGpuPair();

  it('matches mergekit’s formula and the CPU reference', async () => {
    for (const dtype of ['F32', 'BF16'] as const)
      for (const t of [0.001, 0.1, 1]) {
        const g = await runNearswap(t, dtype, { backend: backends.gpu });
        const want = nearswapExpected(t, dtype);
        (await g.tensor('w')).forEach((v, i) =>
          expect(Math.abs(v - want[i]!), `${dtype} t=${t} [${i}]`).toBeLessThanOrEqual(
            1e-6 * Math.max(1, Math.abs(want[i]!)),
          ),
        );
        await expectParity(g, await runNearswap(t, dtype), ['w'], `${dtype} t=${t}`);
      }
  });

  it('the kernel agrees with its CPU twin to a few ulp on 300,001 elements', async () => {
    const n = 300_001;
    const [a, b] = [randomFloats(n, 8), randomFloats(n, 9).map((v, i) => (i % 3 ? v : 0))];
    const up = (v: Float32Array) => backends.tight.load(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), 'F32');
    const [ta, tb] = [await up(a), await up(b)];
    const out = await backends.tight.elementwise(NEARSWAP, [ta, tb], { t: 0.3 });
    const bytes = await backends.tight.store(out, 'F32');
    [ta, tb, out].forEach((x) => backends.tight.release(x));
    const got = new Float32Array(bytes.buffer, bytes.byteOffset, n);
    const want = nearswap(a, b, 0.3);
    let worst = 0;
    got.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want[i]!) / Math.max(1e-30, Math.abs(want[i]!)))));
    expect(worst).toBeLessThanOrEqual(1e-6);
  });
});
