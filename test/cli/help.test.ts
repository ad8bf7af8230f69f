/** Every subcommand answers --help and -h with its usage on stdout and exit code 0 (issue 19). */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('bin/merge-lab.mjs');
const COMMANDS = ['merge', 'generate', 'eval', 'sweep', 'calibrate', 'quantize'];

describe('merge-lab <command> --help', () => {
  it.each(COMMANDS)('%s --help prints the usage and exits 0', async (cmd) => {
    const { stdout } = await run(process.execPath, [BIN, cmd, '--help']); // rejects on a non-zero exit
    expect(stdout).toMatch(new RegExp(`^usage: merge-lab ${cmd} `));
  });

  it('-h too, and after other arguments (even ones the command would reject)', async () => {
    for (const argv of [
      ['sweep', '-h'],
      ['sweep', 'recipe.yml', '--bogus', '--help'],
    ]) {
      const { stdout } = await run(process.execPath, [BIN, ...argv]);
      expect(stdout, argv.join(' ')).toMatch(/^usage: merge-lab sweep /);
    }
  });

  it('an unknown flag without --help is still a usage error (exit 2)', async () => {
    await expect(run(process.execPath, [BIN, 'sweep', '--bogus'])).rejects.toMatchObject({ code: 2 });
  });
});
