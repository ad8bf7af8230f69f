/**
 * Run by swiftshader.test.ts in a subprocess with VK_ICD_FILENAMES pointing at Chromium's
 * SwiftShader (the adapter headless Chromium gives the browser worker: no shader-f16, 256
 * invocations per workgroup). Prints JSON: how far a histogram pass over a 1.5 Mi-element chunk
 * (the page's) raised this process's peak RSS, the DARE probe bytes' hashes and every method's
 * merge output on tiny bf16 checkpoints.
 */
import { readFileSync } from 'node:fs';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { merge } from '../../src/core/merge/execute';
import { parseRecipe } from '../../src/core/recipe/parse';
import { DEFAULT_DARE_PROBE, dareProbeBytes, sha256Hex } from '../../src/gpu/dare-probe';
import { createNodeWebGpuBackend } from '../../src/node/webgpu-backend';
import { randomFloats, tinyCheckpoint } from '../helpers/checkpoints';
import { RECIPES } from './recipes';

const statusMB = (key: string) =>
  Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

const be = await createNodeWebGpuBackend();
// The radix select's histogram (TIES) on a page-sized chunk, first: this process's peak growth.
const n = 1.5 * 2 ** 20;
const values = randomFloats(n, 5);
const rssBefore = statusMB('VmRSS');
const x = await be.load(new Uint8Array(values.buffer), 'F32');
await be.absHistogram(x, { prefix: 0, prefixShift: 31, shift: 20, width: 11 }, new Uint32Array(2048));
be.release(x);
const histogramPeakMB = statusMB('VmHWM') - rssBefore;
const dare: Record<string, string> = {};
for (const dtype of ['F32', 'F16', 'BF16'] as const)
  dare[dtype] = await sha256Hex(await dareProbeBytes(be, { ...DEFAULT_DARE_PROBE, dtype }));
const o = { dtype: 'BF16' as const, hidden: 24, intermediate: 40, vocab: 61, layers: 1 };
const models = [
  await tinyCheckpoint('base', { ...o, seed: 1 }),
  await tinyCheckpoint('a', { ...o, seed: 2, like: { seed: 1, scale: 0.05 } }),
  await tinyCheckpoint('b', { ...o, seed: 3, like: { seed: 1, scale: 0.08 } }),
];
const merges: Record<string, { file: string; diagnostics: unknown }> = {};
for (const [method, yaml] of Object.entries(RECIPES)) {
  const out = new MemoryOutputFolder();
  const s = await merge(parseRecipe(yaml).recipe, new Map(models.map((m) => [m.name, m])), be, out, {});
  merges[method] = {
    file: Buffer.from(out.files.get('model.safetensors')!).toString('base64'),
    diagnostics: s.diagnostics,
  };
}
console.log(
  JSON.stringify({ adapter: be.adapter.name, shaderF16: be.adapter.shaderF16, histogramPeakMB, dare, merges }),
);
process.exit(0);
