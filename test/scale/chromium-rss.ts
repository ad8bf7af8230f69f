/** Resident memory of the lab's Chromium processes, sampled from outside (ps), for the page's scale checks. */
import { execFileSync } from 'node:child_process';

export interface ChromiumSample {
  /** The largest renderer (the page and its workers). */
  renderer: number;
  /** Every process of the lab's browser together. */
  total: number;
}

/** RSS of the lab's Chromium processes (their profile folders are named merge-lab-chrome-*). */
export function sampleChromium(): ChromiumSample {
  let out: string;
  try {
    out = execFileSync('ps', ['-eo', 'rss=,args='], { encoding: 'utf8', maxBuffer: 1 << 24 });
  } catch {
    return { renderer: 0, total: 0 };
  }
  let renderer = 0;
  let total = 0;
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m || !m[2]!.includes('chromium') || !m[2]!.includes('merge-lab-chrome-')) continue;
    const bytes = Number(m[1]) * 1024;
    total += bytes;
    if (m[2]!.includes('--type=renderer')) renderer = Math.max(renderer, bytes);
  }
  return { renderer, total };
}

/** Samples every `ms` until stopped; `stop()` returns the peaks. */
export function watchChromium(ms = 500): { stop(): ChromiumSample } {
  const peak: ChromiumSample = { renderer: 0, total: 0 };
  const timer = setInterval(() => {
    const s = sampleChromium();
    peak.renderer = Math.max(peak.renderer, s.renderer);
    peak.total = Math.max(peak.total, s.total);
  }, ms);
  return {
    stop() {
      clearInterval(timer);
      return { ...peak };
    },
  };
}
