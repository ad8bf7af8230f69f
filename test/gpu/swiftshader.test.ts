/**
 * The same WGSL on Chromium's SwiftShader, the adapter of the browser worker in headless
 * Chromium (no shader-f16: the u32 bit-op codecs are the only path). Runs swiftshader-probe.ts in
 * a subprocess with VK_ICD_FILENAMES at SwiftShader: the DARE probe bytes must equal the CPU
 * reference's (hence lavapipe's), every method's merge must match the CPU reference, and the radix
 * select's histogram must not cost the process the ~205 MB the workgroup version did there.
 * Needs Debian's `chromium` (scripts/test.sh installs it); under CI its absence is a failure.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MergeSummary } from '../../src/core/merge/execute';
import { MemoryOutputFolder } from '../../src/core/io/output-folder';
import { CpuBackend } from '../../src/core/merge/cpu-backend';
import { DEFAULT_DARE_PROBE, dareProbeBytes, sha256Hex } from '../../src/gpu/dare-probe';
import { tinyCheckpoint } from '../helpers/checkpoints';
import { runMerge } from '../helpers/merge-harness';
import { expectParity } from './parity';
import { RECIPES } from './recipes';

const ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!existsSync(ICD))
  throw new Error(`SwiftShader ICD ${ICD} is missing: install Debian's chromium (scripts/test.sh does)`);

describe('WGSL on SwiftShader (the browser adapter)', () => {
  it('DARE bytes equal the CPU reference; every method matches the CPU reference', async () => {
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', 'test/gpu/swiftshader-probe.ts'], {
      env: { ...process.env, VK_ICD_FILENAMES: ICD },
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
    });
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
      adapter: string;
      shaderF16: boolean;
      histogramPeakMB: number;
      dare: Record<string, string>;
      merges: Record<string, { file: string; diagnostics: MergeSummary['diagnostics'] }>;
    };
    expect(r.adapter).toMatch(/SwiftShader/i);
    // The barrier-free histogram: the workgroup one raised this peak by ~205 MB (its coroutines, and compiling them).
    expect(r.histogramPeakMB).toBeLessThan(80);
    for (const dtype of ['F32', 'F16', 'BF16'] as const)
      expect(r.dare[dtype], dtype).toBe(
        await sha256Hex(await dareProbeBytes(new CpuBackend(), { ...DEFAULT_DARE_PROBE, dtype })),
      );
    const o = { dtype: 'BF16' as const, hidden: 24, intermediate: 40, vocab: 61, layers: 1 };
    const models = [
      await tinyCheckpoint('base', { ...o, seed: 1 }),
      await tinyCheckpoint('a', { ...o, seed: 2, like: { seed: 1, scale: 0.05 } }),
      await tinyCheckpoint('b', { ...o, seed: 3, like: { seed: 1, scale: 0.08 } }),
    ];
    for (const [method, yaml] of Object.entries(RECIPES)) {
      const cpu = await runMerge(yaml, models);
      const out = new MemoryOutputFolder();
      out.files.set('model.safetensors', new Uint8Array(Buffer.from(r.merges[method]!.file, 'base64')));
      const gpu = {
        out,
        summary: { ...cpu.summary, diagnostics: r.merges[method]!.diagnostics },
        tensor: cpu.tensor,
        raw: cpu.raw,
      };
      await expectParity(gpu, cpu, models[0]!.tensors.keys(), `${method} on SwiftShader`);
    }
  }, 120_000);
});
