/**
 * merge-lab: the Merge Lab engine from the terminal. Any LabError (a cancellation included) is
 * reported as one line (`describeError`) with exit code 1, a UsageError with exit code 2; anything
 * else is a bug and keeps its stack trace. `merge-lab CMD --help` (or -h) prints CMD's usage, exit 0.
 */
import { LabError, describeError } from '../core/errors';
import { UsageError, wantsHelp } from './args';
import { CALIBRATE_USAGE, calibrateCommand } from './calibrate-command';
import { EVAL_USAGE, evalCommand } from './eval-command';
import { GENERATE_USAGE, generateCommand } from './generate-command';
import { MERGE_USAGE, mergeCommand } from './merge-command';
import { QUANTIZE_USAGE, quantizeCommand } from './quantize-command';
import { SENSITIVITY_USAGE, sensitivityCommand } from './sensitivity-command';
import { SWEEP_USAGE, sweepCommand } from './sweep-command';

const COMMANDS: Record<string, { usage: string; run: (argv: string[]) => Promise<void> }> = {
  merge: { usage: MERGE_USAGE, run: mergeCommand },
  generate: { usage: GENERATE_USAGE, run: generateCommand },
  eval: { usage: EVAL_USAGE, run: evalCommand },
  sweep: { usage: SWEEP_USAGE, run: sweepCommand },
  calibrate: { usage: CALIBRATE_USAGE, run: calibrateCommand },
  quantize: { usage: QUANTIZE_USAGE, run: quantizeCommand },
  sensitivity: { usage: SENSITIVITY_USAGE, run: sensitivityCommand },
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || !COMMANDS[cmd]) {
    console.error(
      `usage:\n${Object.values(COMMANDS)
        .map((c) => `  ${c.usage}`)
        .join('\n')}`,
    );
    return cmd && cmd !== '--help' && cmd !== '-h' ? 2 : 0;
  }
  if (wantsHelp(rest)) {
    console.log(`usage: ${COMMANDS[cmd]!.usage}`);
    return 0;
  }
  try {
    await COMMANDS[cmd]!.run(rest);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`merge-lab ${cmd}: ${e.message}`);
      return 2;
    }
    if (e instanceof LabError) {
      console.error(`merge-lab ${cmd}: ${describeError(e)}`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
