// Preloaded into a scale run's Node process (--import): prints the process's peak RSS on exit.
process.on('exit', () => process.stderr.write(`peak-rss-bytes ${process.resourceUsage().maxRSS * 1024}\n`));
