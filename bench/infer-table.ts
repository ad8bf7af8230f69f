/**
 * bench:infer's results as one Markdown table: per shape, an onnxruntime-web row per weight format
 * and a PyTorch row per dtype; each rate wall clock with tokens per CPU-second in brackets.
 */
import { type Measured, type Rates, type WeightFormat, bytesPerElement } from './infer-common';
import type { TorchMeasured } from './infer-peer';

export interface BenchRow {
  shape: string;
  weights: WeightFormat;
  prompt: number;
  /** Undefined when the measurement did not complete (its stderr says why). */
  ort: Measured | undefined;
  /** PyTorch on the same checkpoint: f32 first, then bf16 when asked for. */
  torch: TorchMeasured[];
  /** Matrix elements a decode step reads (./infer-common.ts). */
  elements: number;
  newTokens: number;
  reps: number;
}

const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2));
const both = (wall: number, perCpu: number) => `${f(wall)} (${f(perCpu)})`;
const ratio = (a: Rates, b: Rates | undefined, k: 'prefill' | 'decode') =>
  b
    ? `${(a[`${k}_tok_s`] / b[`${k}_tok_s`]).toFixed(2)}× (${(a[`${k}_tok_cpu_s`] / b[`${k}_tok_cpu_s`]).toFixed(2)}×)`
    : '–';
const gb = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(0)} MB`);
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

function sameTokens(a: number[], ref: number[] | undefined): string {
  if (!ref) return '–';
  const n = Math.min(a.length, ref.length);
  const at = a.slice(0, n).findIndex((id, i) => id !== ref[i]);
  return at < 0 ? 'yes' : `no (from token ${at})`;
}

export function printTable(rows: BenchRow[], bandwidthGBs: number, blockSize: number): void {
  console.log(
    '| model | engine, weights | prompt | new tokens × runs | peak RSS (after the runs) | prefill tok/s | ÷ f32 | ÷ PyTorch f32 | decode tok/s | ÷ f32 | ÷ PyTorch f32 | weights read per token | bound tok/s | decode ÷ bound | TTFT | greedy tokens = PyTorch f32 |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const line = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
  const shapes = [...new Set(rows.map((r) => r.shape))];
  for (const shape of shapes) {
    const group = rows.filter((r) => r.shape === shape);
    const f32 = group.find((r) => r.weights === 'f32')?.ort?.rates;
    const torch = group[0]!.torch;
    const peer = torch[0];
    const bound = (bytesPerToken: number, r: Rates) => {
      const tokS = (bandwidthGBs * 1e9) / bytesPerToken;
      return [gb(bytesPerToken), f(tokS), `${pct(r.decode_tok_s / tokS)} (${pct(r.decode_tok_cpu_s / tokS)})`];
    };
    for (const r of group) {
      const name = r.weights === 'q4' ? `ORT wasm, q4 (block ${blockSize})` : `ORT wasm, ${r.weights}`;
      const runs = `${r.newTokens} × ${r.reps}`;
      if (!r.ort) {
        line([shape, name, String(r.prompt), runs, 'did not run (see stderr)', ...Array(11).fill('–')]);
        continue;
      }
      const o = r.ort.rates;
      line([
        shape,
        name,
        String(r.prompt),
        runs,
        `${gb(r.ort.max_rss_bytes)} (${gb(r.ort.end_rss_bytes)})`,
        both(o.prefill_tok_s, o.prefill_tok_cpu_s),
        r.weights === 'f32' ? '1' : ratio(o, f32, 'prefill'),
        ratio(o, peer?.rates, 'prefill'),
        both(o.decode_tok_s, o.decode_tok_cpu_s),
        r.weights === 'f32' ? '1' : ratio(o, f32, 'decode'),
        ratio(o, peer?.rates, 'decode'),
        ...bound(r.elements * bytesPerElement(r.weights, blockSize), o),
        `${o.ttft_ms.toFixed(0)} ms`,
        sameTokens(r.ort.ids, peer?.ids),
      ]);
    }
    for (const t of torch) {
      const p = t.rates;
      line([
        shape,
        `PyTorch eager, ${t.dtype}`,
        String(group[0]!.prompt),
        `${t.new_tokens} × ${t.reps}`,
        `${gb(t.max_rss_bytes)} (${gb(t.end_rss_bytes)})`,
        both(p.prefill_tok_s, p.prefill_tok_cpu_s),
        t.dtype === 'f32' ? '–' : ratio(p, peer?.rates, 'prefill'),
        t.dtype === 'f32' ? '1' : ratio(p, peer?.rates, 'prefill'),
        both(p.decode_tok_s, p.decode_tok_cpu_s),
        '–',
        t.dtype === 'f32' ? '1' : ratio(p, peer?.rates, 'decode'),
        ...bound(group[0]!.elements * (t.dtype === 'f32' ? 4 : 2), p),
        `${p.ttft_ms.toFixed(0)} ms`,
        t.dtype === 'f32' ? '(itself)' : sameTokens(t.ids, peer?.ids),
      ]);
    }
  }
}
