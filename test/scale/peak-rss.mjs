// Preloaded into a scale run's Node process (--import): prints the process's peak RSS on exit.
// VmHWM is this process's own high-water mark (getrusage's maxrss keeps the peak of the process
// that exec'd it).
import { readFileSync } from 'node:fs';

process.on('exit', () => {
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  process.stderr.write(`peak-rss-bytes ${kb * 1024}\n`);
});
