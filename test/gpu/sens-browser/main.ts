/**
 * Page for test/gpu/sens-chromium.test.ts: the WebGPU backward pass of Sens-Merging
 * (src/infer/sens/gpu) on the page's own navigator.gpu (SwiftShader in this Chromium), on a
 * checkpoint handed over as base64 files or named among the built-in models (fetched from
 * /models/). `window.__sens(model, samples, probes)` resolves to the adapter's name and, per
 * sample, the loss, per-tensor sums and probed gradients.
 */
import { Checkpoint } from '../../../src/core/formats/checkpoint';
import { MapModelFolder } from '../../../src/core/io/byte-source';
import { SensGpu } from '../../../src/infer/sens/gpu/context';
import { gpuSensitivityPass } from '../../../src/infer/sens/gpu/pass';
import type { SensSample } from '../../../src/infer/sens/pass';
import { SensWeights } from '../../../src/infer/sens/weights';

const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

async function modelFiles(model: Record<string, string> | string): Promise<Map<string, Blob | Uint8Array>> {
  if (typeof model !== 'string') return new Map(Object.entries(model).map(([n, b]) => [n, bytes(b)]));
  const files = new Map<string, Blob>();
  for (const n of ['config.json', 'model.safetensors'])
    files.set(n, await (await fetch(`/models/${model}/${n}`)).blob());
  return files;
}

async function sens(model: Record<string, string> | string, samples: SensSample[], probes: Record<string, number[]>) {
  const folder = new MapModelFolder('model', await modelFiles(model));
  const weights = new SensWeights(await Checkpoint.open(folder, { requireConfig: true }));
  const gpu = await SensGpu.create(navigator.gpu);
  try {
    const results = [];
    for (const s of samples) {
      const t0 = performance.now();
      const r = await gpuSensitivityPass(gpu, weights, s, { probes: new Map(Object.entries(probes)) });
      results.push({
        loss: r.loss,
        tensors: Object.fromEntries(r.tensors),
        gradients: Object.fromEntries(r.gradients),
        ms: performance.now() - t0,
      });
    }
    return { adapter: gpu.name, results };
  } finally {
    await gpu.dispose();
  }
}

Object.assign(window, { __sens: sens });
document.getElementById('out')!.textContent = 'ready';
