/**
 * The device check's results as markdown: the machine (adapter, what the runner found), the GPU's
 * bandwidth, TA and TIES on the WebGPU backend beside PyTorch, decode tokens/s on the WebGPU EP per
 * weight format, and every step's status (a failed or skipped step is listed, never hidden).
 * Reads the JSON files the steps wrote and the runner's context.tsv and steps.tsv.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AdapterResult } from './adapter';
import type { BandwidthResult } from './copy-bandwidth';
import type { DecodeResult } from './decode';
import type { MergeResult } from './merge-one';
import { resultsDir } from './common';

interface TorchMergeResult {
  engine: 'torch';
  method: string;
  device: string;
  torch: string;
  seconds: number;
  bytesRead: number;
  bytesWritten: number;
  peakRssBytes: number;
}

const dir = () => resultsDir();
function load<T>(name: string): T | undefined {
  const f = path.join(dir(), `${name}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as T) : undefined;
}
function tsv(name: string): string[][] {
  const f = path.join(dir(), name);
  return existsSync(f)
    ? readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => l.split('\t'))
    : [];
}
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const gbs = (r: { bytesRead: number; bytesWritten: number; seconds: number }) =>
  (r.bytesRead + r.bytesWritten) / 1e9 / r.seconds;
const LABEL: Record<string, string> = { ta: 'TA', ties: 'TIES' };

function machineTable(adapter: AdapterResult | undefined, bw: BandwidthResult | undefined): string[] {
  const rows = ['| | |', '|---|---|'];
  if (adapter)
    rows.push(
      `| WebGPU adapter | ${adapter.name} (vendor ${adapter.vendor || '?'}, ${adapter.architecture || '?'}), shader-f16 ${adapter.shaderF16 ? 'yes' : 'no'}, max buffer ${adapter.maxBufferMiB.toFixed(0)} MiB, storage binding ${adapter.maxStorageBindingMiB.toFixed(0)} MiB${adapter.software ? ' — **software adapter (a CPU implementation of Vulkan)**' : ''} |`,
      `| Node | ${adapter.node} (bundled) |`,
    );
  for (const [k, v] of tsv('context.tsv')) rows.push(`| ${k} | ${v ?? ''} |`);
  if (bw)
    rows.push(
      `| WebGPU bandwidth | WGSL copy kernel **${bw.copyGBs.toFixed(1)} GB/s** (read + written, ${bw.bufferMiB.toFixed(0)} MiB buffers); upload (writeBuffer) ${bw.uploadGBs.toFixed(2)} GB/s; read-back (mapAsync) ${bw.readbackGBs.toFixed(2)} GB/s |`,
    );
  return rows;
}

function mergeTable(bw: BandwidthResult | undefined, adapter: AdapterResult | undefined): string[] {
  const rows = [
    '| method | engine | device | time | GB/s (read + written) | % of WGSL copy | speed vs PyTorch | peak RSS |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const method of ['ta', 'ties']) {
    const gpu = load<MergeResult>(`merge-webgpu-${method}`);
    const torch = load<TorchMergeResult>(`merge-torch-${method}`);
    const pct = (g: number) => (bw ? `${((100 * g) / bw.copyGBs).toFixed(2)}%` : '–');
    if (gpu)
      rows.push(
        `| ${LABEL[method]} | merge-lab WebGPU | ${adapter?.name ?? '?'} | ${gpu.seconds.toFixed(2)} s | ${gbs(gpu).toFixed(2)} | ${pct(gbs(gpu))} | ${torch ? `**${(gbs(gpu) / gbs(torch)).toFixed(2)}×**` : '–'} | ${mb(gpu.peakRssBytes)} |`,
      );
    if (torch)
      rows.push(
        `| ${LABEL[method]} | PyTorch ${torch.torch} | ${torch.device} | ${torch.seconds.toFixed(2)} s | ${gbs(torch).toFixed(2)} | ${pct(gbs(torch))} | 1.00× | ${mb(torch.peakRssBytes)} |`,
      );
  }
  return rows;
}

function decodeTable(): string[] {
  const rows = [
    '| weights | compute | KV cache | load | prompt | prefill tok/s | new tokens | decode tok/s | peak RSS |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const w of ['f32', 'f16', 'q4']) {
    const d = load<DecodeResult>(`decode-${w}`);
    if (d)
      rows.push(
        `| ${w} | ${d.compute} | ${d.kvCache} | ${d.loadSeconds.toFixed(1)} s | ${d.promptTokens} | ${d.prefillTokS.toFixed(1)} | ${d.newTokens} | **${d.decodeTokS.toFixed(1)}** | ${mb(d.peakRssBytes)} |`,
      );
  }
  return rows;
}

export function reportStep(markdownFile?: string): void {
  const adapter = load<AdapterResult>('adapter');
  const bw = load<BandwidthResult>('bandwidth');
  const lines = ['## Merge Lab device check', '', ...machineTable(adapter, bw), ''];
  lines.push('### Merge: base + 2 fine-tunes, streamed tensor by tensor, file to file', '');
  lines.push(...mergeTable(bw, adapter), '');
  lines.push('### Decode on the WebGPU EP (onnxruntime-web in Node, greedy, best of the timed runs)', '');
  lines.push(...decodeTable(), '');
  const steps = tsv('steps.tsv');
  if (steps.length) {
    lines.push('### Steps', '', '| step | status | time | detail |', '|---|---|---|---|');
    for (const [step, status, seconds, detail] of steps)
      lines.push(`| ${step} | ${status} | ${seconds} s | ${(detail ?? '').replace(/\|/g, '/')} |`);
    lines.push('');
  }
  const text = lines.join('\n');
  console.log(text);
  if (markdownFile) writeFileSync(markdownFile, `${text}\n`);
}
