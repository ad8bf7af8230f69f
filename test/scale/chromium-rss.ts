/** Resident memory of the lab's Chromium processes, sampled from outside (ps), for the page's scale checks. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Chromium's process kinds: the browser itself (no --type), then its --type= children. */
export const PROCESS_KINDS = ['browser', 'gpu-process', 'renderer', 'utility', 'other'] as const;
export type ProcessKind = (typeof PROCESS_KINDS)[number];

export interface ChromiumSample {
  /** The largest renderer (the page and its workers). */
  renderer: number;
  /** Every process of the lab's browser together. */
  total: number;
}

/** A sample broken down: per kind of process, and the PSS sum. */
export interface ChromiumBreakdown extends ChromiumSample {
  /** RSS summed per kind of process. */
  byKind: Record<ProcessKind, number>;
  /**
   * Proportional set size of every process together: pages shared between them (Chromium's binary,
   * the shared memory the page hands the GPU process) counted once. Reported beside `total`, which
   * the checks use (RSS summed, as the targets were set).
   */
  pss: number;
}

/** A process's PSS in bytes (0 when it is gone or unreadable). */
function pssOf(pid: number): number {
  try {
    const kb = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

const emptyByKind = (): Record<ProcessKind, number> =>
  Object.fromEntries(PROCESS_KINDS.map((k) => [k, 0])) as Record<ProcessKind, number>;

function kindOf(args: string): ProcessKind {
  const type = /--type=([\w-]+)/.exec(args)?.[1];
  if (type === undefined) return 'browser';
  return (PROCESS_KINDS as readonly string[]).includes(type) ? (type as ProcessKind) : 'other';
}

/**
 * RSS of the lab's Chromium processes: those under this process (playwright launches the browser as
 * its child), so another lab running on the same machine is never counted.
 */
export function sampleChromium(root = process.pid): ChromiumBreakdown {
  const sample: ChromiumBreakdown = { renderer: 0, total: 0, byKind: emptyByKind(), pss: 0 };
  let out: string;
  try {
    out = execFileSync('ps', ['-eo', 'pid=,ppid=,rss=,args='], { encoding: 'utf8', maxBuffer: 1 << 24 });
  } catch {
    return sample;
  }
  const procs = new Map<number, { ppid: number; rss: number; args: string }>();
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m) procs.set(Number(m[1]), { ppid: Number(m[2]), rss: Number(m[3]) * 1024, args: m[4]! });
  }
  const under = (pid: number): boolean => {
    for (let p = procs.get(pid)?.ppid, hops = 0; p !== undefined && hops < 64; p = procs.get(p)?.ppid, hops++)
      if (p === root) return true;
    return false;
  };
  for (const [pid, { rss, args }] of procs) {
    if (!args.includes('chromium') || !under(pid)) continue;
    const kind = kindOf(args);
    sample.total += rss;
    sample.pss += pssOf(pid);
    sample.byKind[kind] += rss;
    if (kind === 'renderer') sample.renderer = Math.max(sample.renderer, rss);
  }
  return sample;
}

/**
 * Samples every `ms` until stopped; `stop()` returns the peaks: of the total, of the largest renderer,
 * and per kind of process (each kind's own peak, so they need not add up to the total's), plus
 * `atPeak`, each kind's share at the moment the total peaked; `pss`: the peak of the PSS sum.
 */
export function watchChromium(ms = 500): { stop(): ChromiumBreakdown & { atPeak: Record<ProcessKind, number> } } {
  const peak: ChromiumBreakdown = { renderer: 0, total: 0, byKind: emptyByKind(), pss: 0 };
  let atPeak = emptyByKind();
  const timer = setInterval(() => {
    const s = sampleChromium();
    peak.renderer = Math.max(peak.renderer, s.renderer);
    if (s.total > peak.total) atPeak = s.byKind;
    peak.total = Math.max(peak.total, s.total);
    peak.pss = Math.max(peak.pss, s.pss);
    for (const k of PROCESS_KINDS) peak.byKind[k] = Math.max(peak.byKind[k], s.byKind[k]);
  }, ms);
  return {
    stop() {
      clearInterval(timer);
      return { ...peak, byKind: { ...peak.byKind }, atPeak: { ...atPeak } };
    },
  };
}

/** One line: each kind's RSS at the total's peak, in GB (kinds with none left out). */
export function describeKinds(byKind: Record<ProcessKind, number>): string {
  return PROCESS_KINDS.filter((k) => byKind[k] > 0)
    .map((k) => `${k} ${(byKind[k] / 1e9).toFixed(2)}`)
    .join(', ');
}
