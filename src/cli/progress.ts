/** A one-line terminal progress bar on stderr (plain lines when stderr is not a TTY). */
import type { MergeProgress } from '../core/merge/execute';

import { formatBytes, formatMs } from '../core/units';

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

/** `label: done/total tensors` on stderr while weights are made (a rewritten line on a TTY, else every 10%). */
export function tensorProgress(label: string, stream: NodeJS.WriteStream = process.stderr) {
  let shown = -1;
  return (done: number, total: number) => {
    const tenth = Math.floor((10 * done) / total);
    if (!stream.isTTY && tenth === shown) return;
    shown = tenth;
    const line = `${label}: ${done}/${total} tensors`;
    stream.write(stream.isTTY ? `\r${line}\x1b[K${done === total ? '\n' : ''}` : `${line}\n`);
  };
}
