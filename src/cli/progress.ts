/** A one-line terminal progress bar on stderr (plain lines when stderr is not a TTY). */
import type { MergeProgress } from '../core/merge/execute';

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

export function progressPrinter(stream: NodeJS.WriteStream = process.stderr) {
  let last = 0;
  const tty = stream.isTTY;
  return {
    update(p: MergeProgress) {
      const t = Date.now();
      if (t - last < (tty ? 100 : 2000) && p.tensorsDone < p.tensorsTotal) return;
      last = t;
      const frac = p.bytesTotal ? p.bytesDone / p.bytesTotal : 1;
      const width = 28;
      const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
      const rate = p.elapsedMs > 0 ? (p.bytesDone / p.elapsedMs) * 1000 : 0;
      const line = `${bar} ${(frac * 100).toFixed(0).padStart(3)}%  ${p.tensorsDone}/${p.tensorsTotal} tensors  ${formatBytes(rate)}/s  ETA ${p.etaMs === undefined ? '…' : formatMs(p.etaMs)}`;
      stream.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    },
    done() {
      if (tty) stream.write('\n');
    },
  };
}
