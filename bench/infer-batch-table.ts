/**
 * bench:batch's results as one Markdown table (per shape, one row per batch size B: ORT and PyTorch
 * aggregate decode rates, wall clock with tokens per CPU-second in brackets, their ratios to B = 1
 * and to each other) and issue 17's targets on the 0.5B shape, met or MISSED.
 */
import type { Measured } from './infer-common';
import type { BatchRow } from './infer-batch-peer';

const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2));
const both = (wall: number, perCpu: number) => `${f(wall)} (${f(perCpu)})`;
const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : '–');
/** CPU seconds per wall second while decoding (above 1: more than one thread was busy). */
const busy = (perWall: number, perCpu: number) => (perWall / perCpu).toFixed(2);
const gb = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(0)} MB`);

/** How many of the B sequences have PyTorch's greedy ids, and where the first one departs. */
function sameGreedy(ort: number[][], torch: number[][]): string {
  let same = 0;
  let first = Infinity;
  ort.forEach((ids, b) => {
    const at = ids.findIndex((id, i) => id !== torch[b]?.[i]);
    if (at < 0) same++;
    else first = Math.min(first, at);
  });
  return same === ort.length ? `${same}/${ort.length}` : `${same}/${ort.length} (one departs at token ${first})`;
}

export function printBatchTable(rows: BatchRow[], batch1: { shape: string; m: Measured | undefined }[]): void {
  console.log(
    '| model | threads | B | ORT decode tok/s | ÷ B=1 | ORT ms a step | step on an empty cache, ms¹ | PyTorch decode tok/s | ÷ B=1 | PyTorch ms a step | ORT ÷ PyTorch | CPU ÷ wall ORT / PyTorch² | peak RSS ORT / PyTorch | greedy ids = PyTorch |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const one = rows.find((x) => x.shape === r.shape && x.threads === r.threads && x.B === 1);
    const o = r.ort;
    const t = r.torch;
    const cells = [
      r.shape,
      String(r.threads),
      String(r.B),
      o ? both(o.decode_tok_s, o.decode_tok_cpu_s) : 'did not complete',
      o
        ? `${ratio(o.decode_tok_s, one?.ort?.decode_tok_s)} (${ratio(o.decode_tok_cpu_s, one?.ort?.decode_tok_cpu_s)})`
        : '–',
      o ? f(o.decode_step_ms) : '–',
      o?.probe_ms !== undefined ? f(o.probe_ms) : '–',
      both(t.decode_tok_s, t.decode_tok_cpu_s),
      `${ratio(t.decode_tok_s, one?.torch.decode_tok_s)} (${ratio(t.decode_tok_cpu_s, one?.torch.decode_tok_cpu_s)})`,
      f(t.decode_step_ms),
      o ? `${ratio(o.decode_tok_s, t.decode_tok_s)} (${ratio(o.decode_tok_cpu_s, t.decode_tok_cpu_s)})` : '–',
      `${o ? busy(o.decode_tok_s, o.decode_tok_cpu_s) : '–'} / ${busy(t.decode_tok_s, t.decode_tok_cpu_s)}`,
      `${o ? gb(o.max_rss_bytes) : '–'} / ${gb(t.max_rss_bytes)}`,
      o ? sameGreedy(o.ids, t.ids) : '–',
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  console.log(
    '\n¹ One B-row step of one token each on an empty cache (least of 3): the same B rows through every matrix product, lm_head included, as a decode step, with attention over one position and no past KV cache to feed in or copy out.' +
      '\n² CPU seconds per wall second while decoding (the process, all its threads): above 1 only when more than one thread works; below 1 when the shared machine took the CPU.',
  );
  for (const { shape, m } of batch1)
    console.log(
      m
        ? `The batch-1 graph (generate, bench:infer's session) on ${shape}, the first prompt: decode ${both(m.rates.decode_tok_s, m.rates.decode_tok_cpu_s)} tok/s, peak RSS ${gb(m.max_rss_bytes)}.`
        : `The batch-1 graph on ${shape} did not complete.`,
    );
}

/** Issue 17's targets on the 0.5B shape at B = 8: ≥ 2.5× B = 1 (stretch 3×) and ≥ 1.0× PyTorch. */
export function printTargets(rows: BatchRow[], threads: string): void {
  const b1 = rows.find((r) => r.B === 1)?.ort;
  const b8 = rows.find((r) => r.B === 8);
  if (!b1 || !b8?.ort) return;
  const scale = b8.ort.decode_tok_s / b1.decode_tok_s;
  const scaleCpu = b8.ort.decode_tok_cpu_s / b1.decode_tok_cpu_s;
  const peer = b8.ort.decode_tok_s / b8.torch.decode_tok_s;
  const peerCpu = b8.ort.decode_tok_cpu_s / b8.torch.decode_tok_cpu_s;
  const mark = (ok: boolean) => (ok ? 'met' : '**MISSED**');
  console.log(
    `\nTargets (0.5B shape, B = 8, ${threads} each): ≥ 2.5× B = 1 (stretch 3×): ${scale.toFixed(2)}× (${scaleCpu.toFixed(2)}× per CPU-second), ` +
      `${mark(scale >= 2.5)}${scale >= 3 ? ', stretch met' : ''}; ≥ 1.0× PyTorch: ${peer.toFixed(2)}× (${peerCpu.toFixed(2)}×), ${mark(peer >= 1)}.`,
  );
  const step = b8.ort.decode_step_ms;
  if (b8.ort.probe_ms !== undefined)
    console.log(
      `B = 8 decode step ${f(step)} ms; the same 8-row step on an empty cache (the matrix products, attention over one position) ` +
        `${f(b8.ort.probe_ms)} ms (${((b8.ort.probe_ms / step) * 100).toFixed(0)}%); the rest (attention over the 8 rows' past, the KV cache fed in and copied out) ` +
        `${f(step - b8.ort.probe_ms)} ms; regroup ${b8.ort.timings.regroupMs.toFixed(1)} ms in the run; B = 1 step ${f(b1.decode_step_ms)} ms.`,
    );
}
