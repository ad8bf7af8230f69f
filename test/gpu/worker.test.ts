/**
 * The merge worker's comlink API over a real MessageChannel (Node), on the real WebGPU backend:
 * transferred inputs and outputs, proxied progress and diagnostics, cancellation (an AbortError),
 * typed errors with their code and tensor, and the DARE probe bytes equal
 * to Node's and to the CPU reference's (the browser half of that check is in the e2e suite).
 */
import { MessageChannel } from 'node:worker_threads';
import { expose } from 'comlink';
import { afterAll, describe, expect, it } from 'vitest';
import { LabError, isAbortError } from '../../src/core/errors';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import type { TensorDiagnostics } from '../../src/core/merge/diagnostics';
import type { MergeProgress } from '../../src/core/merge/execute';
import { DEFAULT_DARE_PROBE, dareProbeBytes } from '../../src/gpu/dare-probe';
import { nodeGpu } from '../../src/node/webgpu-env';
import { MergeClient } from '../../src/workers/merge-client';
import { createMergeWorkerApi } from '../../src/workers/merge.worker';
import { tinyCheckpoint, tinyModelFiles } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { gpuBackend, requireGpu } from './gpu-env';

await requireGpu();

const RECIPE = `merge_method: dare_ties\nbase_model: base\nmodels:\n  - {model: a, parameters: {weight: 0.6, density: 0.5}}\n  - {model: b, parameters: {weight: 0.4, density: 0.7}}\nrandom_seed: 5`;
const opts = { hidden: 16, intermediate: 24, vocab: 40, dtype: 'F16' as const };
const files = () => ({
  base: Object.fromEntries(tinyModelFiles({ ...opts, seed: 1 })),
  a: Object.fromEntries(tinyModelFiles({ ...opts, seed: 2, like: { seed: 1, scale: 0.05 } })),
  b: Object.fromEntries(tinyModelFiles({ ...opts, seed: 3, like: { seed: 1, scale: 0.05 } })),
});

describe('merge worker API (comlink)', () => {
  const { port1, port2 } = new MessageChannel();
  expose(createMergeWorkerApi(nodeGpu), port1 as never);
  const client = new MergeClient(port2 as never);
  afterAll(() => {
    client.dispose();
    port1.close();
    port2.close();
  });

  it('merges on the WebGPU backend with progress; inputs are transferred; output equals an in-process GPU merge', async () => {
    const input = files();
    const progress: MergeProgress[] = [];
    const r = await client.merge(
      { recipe: RECIPE, models: input, backend: 'webgpu' },
      { onProgress: (p) => void progress.push(p) },
    );
    expect(r.backendNotice).toMatch(/^webgpu \(/);
    expect(r.summary.backend).toMatch(/^webgpu/);
    expect(input.base['model.safetensors']!.byteLength).toBe(0); // transferred, detached here
    await new Promise((res) => setTimeout(res, 20)); // last proxied progress call
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.tensorsDone).toBe(progress.at(-1)!.tensorsTotal);

    const be = await gpuBackend();
    const models = [
      await tinyCheckpoint('base', { ...opts, seed: 1 }),
      await tinyCheckpoint('a', { ...opts, seed: 2, like: { seed: 1, scale: 0.05 } }),
      await tinyCheckpoint('b', { ...opts, seed: 3, like: { seed: 1, scale: 0.05 } }),
    ];
    const local = await runMerge(RECIPE, models, { backend: be });
    await be.dispose();
    expect(Object.keys(r.files).sort()).toEqual([...local.out.files.keys()].sort());
    for (const [f, bytes] of local.out.files)
      expect(Buffer.from(r.files[f] as Uint8Array).equals(Buffer.from(bytes)), f).toBe(true);
  });

  it('cancels through an AbortSignal', async () => {
    const ac = new AbortController();
    const p = client.merge(
      { recipe: RECIPE, models: files(), backend: 'webgpu', chunkElements: 16 },
      { signal: ac.signal, onProgress: () => ac.abort() },
    );
    const err = await p.catch((e: unknown) => e);
    expect(isAbortError(err), String(err)).toBe(true);
    expect((err as Error).message).toBe('merge cancelled');
    // the worker is free again afterwards; diagnostics arrive typed
    const seen = new Map<string, TensorDiagnostics>();
    const ok = await client.merge(
      { recipe: RECIPE, models: files(), backend: 'cpu' },
      { onTensor: (name, d) => void seen.set(name, d) },
    );
    expect(ok.summary.backend).toBe('cpu');
    await new Promise((res) => setTimeout(res, 20)); // last proxied onTensor call
    const up = seen.get('model.layers.0.mlp.up_proj.weight')!;
    expect(up.norms.map((x) => x.model)).toEqual(['a', 'b']);
    expect(up.cosines).toEqual([{ a: 'a', b: 'b', value: expect.any(Number) }]);
    expect(up.signConflicts).toBeGreaterThanOrEqual(0);
  });

  it('rejects with the LabError the merge threw: code and tensor intact', async () => {
    const input = files();
    input.b = Object.fromEntries(tinyModelFiles({ ...opts, hidden: 8, seed: 3 }));
    const err = await client.merge({ recipe: RECIPE, models: input, backend: 'cpu' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).code).toBe('shape-mismatch');
    expect((err as LabError).tensor).toBeTruthy();
    expect((err as LabError).message).toContain((err as LabError).tensor!);
  });

  it('DARE probe: worker bytes = Node GPU bytes = CPU reference bytes, for f32, f16 and bf16', async () => {
    const be = await gpuBackend();
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const args = { ...DEFAULT_DARE_PROBE, dtype };
      const viaWorker = await client.dareBytes(args);
      const node = await dareProbeBytes(be, args);
      const cpu = await dareProbeBytes(new CpuBackend(), args);
      expect(Buffer.from(viaWorker).equals(Buffer.from(node)), dtype).toBe(true);
      expect(Buffer.from(node).equals(Buffer.from(cpu)), dtype).toBe(true);
    }
    await be.dispose();
    expect(await client.gpuInfo()).toHaveProperty('name');
  });
});
