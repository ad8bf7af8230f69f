/**
 * TensorBackend.elementwise on the CPU backend: each element-wise kernel runs its CPU twin
 * unchanged (bit for bit), and its operands and parameters are typed per kernel.
 */
import { describe, expect, it } from 'vitest';
import { AIM_SCALE, aimScale } from '../../src/core/kernels/aim-scale';
import { DARE_MASK, dareMask } from '../../src/core/kernels/dare-mask';
import { DELTA, delta } from '../../src/core/kernels/delta';
import { MAGNITUDE_BAND, magnitudeBand } from '../../src/core/kernels/magnitude-band';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { randomFloats } from '../helpers/checkpoints';

const bits = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('CpuBackend.elementwise', () => {
  const cpu = new CpuBackend();
  const a = randomFloats(1001, 1);
  const b = randomFloats(1001, 2);
  const scale = randomFloats(13, 3, 0.5).map((v) => v + 0.5);

  it('delta: the twin, bit for bit', async () => {
    expect(bits(await cpu.elementwise(DELTA, [a, b], {})).equals(bits(delta(a, b)))).toBe(true);
  });

  it('aim-scale: the twin, bit for bit, with the side input and the chunk offset', async () => {
    const got = await cpu.elementwise(AIM_SCALE, [a, b, scale], { omega: 0.4, offset: 5, cols: 13 });
    expect(bits(got).equals(bits(aimScale(a, b, scale, 0.4, 5, 13)))).toBe(true);
    expect(AIM_SCALE.sideLengths?.({ omega: 0.4, offset: 5, cols: 13 })).toEqual([13]);
  });

  it('magnitude-band and dare-mask: the twins, bit for bit', async () => {
    const band = await cpu.elementwise(MAGNITUDE_BAND, [a], { lo: 0.2, hi: Infinity });
    expect(bits(band).equals(bits(magnitudeBand(a, 0.2, Infinity)))).toBe(true);
    const p = { density: 0.3, seed: 7, stream: 2, offset: 65536, rescale: true };
    const mask = await cpu.elementwise(DARE_MASK, [a], p);
    expect(bits(mask).equals(bits(dareMask(a, 0.3, 7, 2, 65536, true)))).toBe(true);
  });

  it('operands and parameters are typed per kernel (checked by tsc)', () => {
    const calls = [
      // @ts-expect-error AIM_SCALE takes base, merged and the scale side
      () => cpu.elementwise(AIM_SCALE, [a, b], { omega: 0.4, offset: 0, cols: 13 }),
      // @ts-expect-error AIM_SCALE's parameters are omega, offset and cols
      () => cpu.elementwise(AIM_SCALE, [a, b, scale], {}),
      // @ts-expect-error DELTA takes model and base
      () => cpu.elementwise(DELTA, [a], {}),
      // @ts-expect-error DARE_MASK's rescale is a boolean
      () => cpu.elementwise(DARE_MASK, [a], { density: 0.3, seed: 7, stream: 2, offset: 0, rescale: 1 }),
    ];
    expect(calls).toHaveLength(4);
  });
});
