/**
 * Decode tokens/s on onnxruntime-web's WebGPU EP (Dawn's navigator.gpu, as `merge-lab generate
 * --ep webgpu` runs it) for one weight format, in its own process: load the generated checkpoint,
 * one untimed greedy run (shader compilation, first uploads), then the best of `reps` timed runs.
 */
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { generate } from '../../src/infer/generate';
import { CausalLM } from '../../src/infer/model';
import type { WeightFormat } from '../../src/infer/weight-format';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { fail, peakRssBytes, saveResult } from './common';

export interface DecodeResult {
  weights: WeightFormat;
  ep: string;
  compute: string;
  kvCache: string;
  loadSeconds: number;
  promptTokens: number;
  newTokens: number;
  prefillTokS: number;
  decodeTokS: number;
  peakRssBytes: number;
}

export interface DecodeOptions {
  model: string;
  weights: string;
  promptTokens: number;
  newTokens: number;
  reps: number;
}

export async function decodeStep(o: DecodeOptions): Promise<void> {
  if (!['f32', 'f16', 'q4'].includes(o.weights)) fail(`--weights must be f32, f16 or q4 (got '${o.weights}')`, 2);
  const weights = o.weights as WeightFormat;
  const folder = new FsModelFolder(o.model);
  const ckpt = await Checkpoint.open(folder, { requireConfig: true });
  const t0 = performance.now();
  const lm = await CausalLM.fromCheckpoint(ckpt, { ep: 'webgpu', adapter: nodeRuntimeAdapter(), weights });
  const loadSeconds = (performance.now() - t0) / 1000;
  if (lm.ep.ep !== 'webgpu') fail(`decode ${weights}: the session runs on ${lm.ep.ep}, not webgpu (${lm.ep.reason})`);
  const vocab = Math.min(lm.spec.vocab, 151000);
  const prompt = Array.from({ length: o.promptTokens }, (_, i) => (i * 7919 + 13) % vocab);
  await generate(lm, prompt, { maxNewTokens: o.newTokens });
  let prefill = 0;
  let decode = 0;
  let newTokens = 0;
  for (let r = 0; r < o.reps; r++) {
    const t = (await generate(lm, prompt, { maxNewTokens: o.newTokens })).timings;
    prefill = Math.max(prefill, t.prefillTokPerS);
    decode = Math.max(decode, t.decodeTokPerS);
    newTokens = t.newTokens;
  }
  const g = lm.graph;
  await lm.release();
  await folder.close();
  saveResult(`decode-${weights}`, {
    weights,
    ep: lm.ep.ep,
    compute: g.compute,
    kvCache: g.kvCache,
    loadSeconds,
    promptTokens: prompt.length,
    newTokens,
    prefillTokS: prefill,
    decodeTokS: decode,
    peakRssBytes: peakRssBytes(),
  } satisfies DecodeResult);
}
