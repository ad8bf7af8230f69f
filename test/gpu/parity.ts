/** GPU-vs-CPU output comparison shared by the GPU parity tests. */
import { expect } from 'vitest';
import { type MergeResult, readOutputTensor } from '../helpers/merge-harness';

/** GPU output equals CPU output: f32 ≤ 1e-6 relative to the tensor scale; 16-bit ≤ 1 ulp. */
export async function expectParity(gpu: MergeResult, cpu: MergeResult, names: Iterable<string>, label: string) {
  for (const name of names) {
    const g = await readOutputTensor(gpu.out, name);
    const c = await readOutputTensor(cpu.out, name);
    expect(g.dtype).toBe(c.dtype);
    expect(g.bytes.byteLength, `${label} ${name}`).toBe(c.bytes.byteLength);
    if (c.dtype === 'F32') {
      const scale = c.values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      let bad = 0;
      let first = '';
      for (let i = 0; i < c.values.length; i++) {
        const d = Math.abs(g.values[i]! - c.values[i]!);
        if (!(d <= 1e-6 * Math.max(Math.abs(c.values[i]!), scale))) {
          bad++;
          first ||= `[${i}] gpu ${g.values[i]} cpu ${c.values[i]}`;
        }
      }
      expect(bad, `${label} ${name} ${first}`).toBe(0);
    } else {
      const gb = new Uint16Array(g.bytes.slice().buffer);
      const cb = new Uint16Array(c.bytes.slice().buffer);
      let bad = 0;
      let first = '';
      for (let i = 0; i < cb.length; i++) {
        const same = gb[i] === cb[i] || ((gb[i]! ^ cb[i]!) < 0x8000 && Math.abs(gb[i]! - cb[i]!) <= 1);
        if (!same) {
          bad++;
          first ||= `[${i}] gpu 0x${gb[i]!.toString(16)} cpu 0x${cb[i]!.toString(16)}`;
        }
      }
      expect(bad, `${label} ${name} ${first}`).toBe(0);
    }
  }
  // Diagnostics: the same records. Thresholds exact; the rest (e.g. SLERP coefficients from GPU dot products) ≤ 1e-6 relative.
  expectSameDiagnostics(gpu.summary.diagnostics, cpu.summary.diagnostics, label);
}

function expectSameDiagnostics(got: unknown, want: unknown, path: string): void {
  if (typeof want === 'number') {
    if (path.includes('.thresholds')) expect(got, path).toBe(want);
    else expect(Math.abs((got as number) - want), path).toBeLessThanOrEqual(1e-6 * Math.abs(want));
  } else if (typeof want === 'object' && want !== null) {
    expect(Object.keys(got as object).sort(), path).toEqual(Object.keys(want).sort());
    for (const [k, v] of Object.entries(want))
      expectSameDiagnostics((got as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else {
    expect(got, path).toEqual(want);
  }
}
