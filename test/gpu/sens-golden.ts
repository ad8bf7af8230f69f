/**
 * The comparison of a backward pass's results with a PyTorch golden (test/golden/sens-*.json),
 * shared by the WebGPU tests in Node (sens-backward.test.ts) and in Chromium (sens-chromium.test.ts).
 * Within 1e-4 relative: the loss, every tensor's Σ|θ⊙g| (Σθ⊙g relative to Σ|θ⊙g|, since it may
 * cancel) and every layer group's Σ|θ⊙g|. Raw gradients: within 1e-4 of the largest probed
 * magnitude of the same tensor. f32 cannot promise 1e-4 of each value: a few probes are 100–1000×
 * smaller than their tensor's others (sums that nearly cancel), and PyTorch's own float32 autograd
 * misses 1e-4 element-wise on about as many of them (10 and 8 of 314 on demo-quick and demo-slow).
 */
import { expect } from 'vitest';
import type { SensGolden } from '../../tools/sens/make-goldens';

export const REL = 1e-4;

export interface PassNumbers {
  loss: number;
  tensors: ReadonlyMap<string, { abs: number; signed: number }>;
  gradients: ReadonlyMap<string, readonly number[]>;
}

/** Checks `got` against result `i` of `golden`; returns the largest relative errors seen. */
export function expectGoldenParity(golden: SensGolden, i: number, got: PassNumbers) {
  const want = golden.results[i]!;
  const worst = { loss: 0, tensor: 0, layer: 0, gradient: 0 };
  worst.loss = Math.abs(got.loss - want.loss) / want.loss;
  expect(worst.loss, 'loss').toBeLessThan(REL);
  expect([...got.tensors.keys()].sort()).toEqual(Object.keys(want.tensors).sort());
  const layers = new Map<string, [number, number]>();
  for (const [tensor, w] of Object.entries(want.tensors)) {
    const g = got.tensors.get(tensor)!;
    const e = Math.max(Math.abs(g.abs - w.abs), Math.abs(g.signed - w.signed)) / w.abs;
    expect(e, `${tensor} Σ|θg| ${g.abs} vs ${w.abs}, Σθg ${g.signed} vs ${w.signed}`).toBeLessThan(REL);
    worst.tensor = Math.max(worst.tensor, e);
    const layer = tensor.split('.').slice(0, 3).join('.');
    const acc = layers.get(layer) ?? [0, 0];
    layers.set(layer, [acc[0] + g.abs, acc[1] + w.abs]);
  }
  for (const [layer, [g, w]] of layers) {
    worst.layer = Math.max(worst.layer, Math.abs(g - w) / w);
    expect(Math.abs(g - w) / w, layer).toBeLessThan(REL);
  }
  for (const [tensor, values] of Object.entries(want.gradients)) {
    const g = got.gradients.get(tensor)!;
    const scale = Math.max(...values.map(Math.abs));
    values.forEach((v, k) => {
      const e = Math.abs(g[k]! - v);
      if (scale > 0) worst.gradient = Math.max(worst.gradient, e / scale);
      expect(e, `${tensor}[${golden.probes[tensor]![k]}] ${g[k]} vs ${v}`).toBeLessThanOrEqual(REL * scale);
    });
  }
  return worst;
}
