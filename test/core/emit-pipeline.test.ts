/**
 * runMethod's emit pipeline (src/core/merge/parallel/run-method.ts): where emit reads nothing of the
 * loaded chunk, chunk c+1 is loaded while chunk c is still being emitted, never chunk c+2 (at most one
 * emit in flight), output stays in order, and an emit's failure fails the merge. Where emit does read
 * the inputs (AIM), nothing overlaps. A linear merge on the real CPU backend; the job's sink is slow.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { emptyDiagnostics } from '../../src/core/merge/diagnostics';
import { METHODS } from '../../src/core/merge/methods/registry';
import { runMethod } from '../../src/core/merge/parallel/run-method';
import type { TensorJob } from '../../src/core/merge/tensor-job';

const CHUNKS = 5;
const CHUNK = 4;
const params = { weight: 0.5, density: 1, gamma: 0 };

/** A 2-input linear job over CHUNKS chunks that logs loads and emit starts/ends; emits take `emitMs`. */
function loggingJob(emitReadsInputs: boolean | undefined, failAt = -1) {
  const log: string[] = [];
  const out: number[] = [];
  const backend = new CpuBackend();
  const job: TensorJob<Float32Array> = {
    name: 't',
    numel: CHUNKS * CHUNK,
    backend,
    chunkElements: CHUNK,
    numChunks: CHUNKS,
    inputs: ['a', 'b'].map((model, stream) => ({ model, params, stream })),
    global: { lambda: 1, normalize: false, rescale: false, t: 0 },
    seed: 0,
    shape: [CHUNKS * CHUNK],
    diagnostics: emptyDiagnostics(),
    diagnose: false,
    emitReadsInputs,
    load: async (c) => {
      log.push(`load ${c}`);
      return [Float32Array.from({ length: CHUNK }, (_, i) => c * CHUNK + i), new Float32Array(CHUNK).fill(2)];
    },
    loadInputs: () => Promise.reject(new Error('unused')),
    emit: async (x) => {
      const c = out.length;
      out.push(-1);
      log.push(`emit ${c}`);
      await new Promise((r) => setTimeout(r, 20));
      if (c === failAt) throw new Error(`sink failed at ${c}`);
      out[c] = x[0]!;
      log.push(`emitted ${c}`);
    },
  };
  return { job, log, out };
}

describe('runMethod emit pipeline', () => {
  it('loads chunk c+1 while chunk c is emitted, never c+2; output in order', async () => {
    const { job, log, out } = loggingJob(false);
    await runMethod(job, METHODS.linear);
    expect(out).toEqual(Array.from({ length: CHUNKS }, (_, c) => 0.5 * c * CHUNK + 1));
    for (let c = 0; c + 1 < CHUNKS; c++) {
      expect(log.indexOf(`load ${c + 1}`)).toBeLessThan(log.indexOf(`emitted ${c}`));
      if (c + 2 < CHUNKS) expect(log.indexOf(`load ${c + 2}`)).toBeGreaterThan(log.indexOf(`emitted ${c}`));
    }
    expect(log[log.length - 1]).toBe(`emitted ${CHUNKS - 1}`); // runMethod waits for the last emit
  });

  it('an emit that reads the inputs (or may) is not overlapped', async () => {
    for (const reads of [true, undefined]) {
      const { job, log } = loggingJob(reads);
      await runMethod(job, METHODS.linear);
      for (let c = 0; c + 1 < CHUNKS; c++)
        expect(log.indexOf(`load ${c + 1}`)).toBeGreaterThan(log.indexOf(`emitted ${c}`));
    }
  });

  it("an emit's failure fails the method, after nothing more than the next chunk", async () => {
    const { job, log } = loggingJob(false, 1);
    await expect(runMethod(job, METHODS.linear)).rejects.toThrow('sink failed at 1');
    expect(log).not.toContain('load 3');
  });
});
