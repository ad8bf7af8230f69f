/**
 * Scale, the GPU device check end to end on this machine's lavapipe: `bash bench/device-pack.sh`
 * makes the pack (under 60 MiB), then bench/device/simulate-target.sh runs bench/device-run.sh as
 * the GPU machine would (a copy of the working tree and the pack, env -i, no node, npm or
 * node_modules; the Vulkan loader and X11 libraries from the pack's .debs, unpacked by Python):
 * with no Vulkan driver it stops at once with one line; with lavapipe, at small sizes, it prints
 * every row of the report and writes it under $OUT. About 20 minutes here, most of it the three
 * decode runs' first generation (onnxruntime's WebGPU EP compiling its shaders on lavapipe).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAVAPIPE = path.join(ROOT, '.cache/vulkan/lvp_icd.json');
const work = mkdtempSync(path.join(tmpdir(), 'device-check-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Small sizes for a CPU Vulkan driver: the runner is the same, only the environment differs. */
const SMALL = {
  DEVICE_LAYERS: '1',
  DEVICE_VOCAB: '4096',
  DEVICE_PROMPT_TOKENS: '8',
  DEVICE_NEW_TOKENS: '4',
  DEVICE_DECODE_REPS: '1',
  DEVICE_BANDWIDTH_MIB: '32',
  DEVICE_BUDGET_S: '2400',
  DEVICE_STEP_TIMEOUT_S: '600',
  DEVICE_WORK: path.join(work, 'device'),
};

function simulate(env: Record<string, string>) {
  const r = spawnSync('bash', ['bench/device/simulate-target.sh'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env: { ...process.env, ...SMALL, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('GPU device check, packed and run here as on the GPU machine', () => {
  it('packs under 60 MiB', () => {
    const r = spawnSync('bash', ['bench/device-pack.sh'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const size = statSync(path.join(ROOT, '.device-pack/merge-lab-device.tar.xz')).size;
    console.log(`pack: ${(size / 2 ** 20).toFixed(1)} MiB`);
    expect(size).toBeLessThan(60 * 2 ** 20);
  });

  it('stops at once with one line when Vulkan finds no driver', () => {
    const r = simulate({ VK_ICD_FILENAMES: path.join(work, 'no-such-icd.json') });
    expect(r.status).toBe(3);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^device check: FAILED: no GPU adapter/);
  });

  it('runs every step on lavapipe and prints the report', () => {
    expect(existsSync(LAVAPIPE), 'run bash scripts/setup-vulkan.sh first').toBe(true);
    const out = path.join(work, 'out');
    const r = simulate({ VK_ICD_FILENAMES: LAVAPIPE, DEVICE_FORCE_DEBS: '1', OUT: out });
    console.log(r.stdout);
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
    expect(r.stdout).toContain('## Merge Lab device check');
    expect(r.stdout).toMatch(/system libraries \| from the pack's Debian 12 \.debs .*libvulkan1/);
    expect(r.stdout).toMatch(/WGSL copy kernel \*\*[\d.]+ GB\/s\*\*/);
    for (const method of ['TA', 'TIES']) {
      expect(r.stdout).toMatch(
        new RegExp(`\\| ${method} \\| merge-lab WebGPU \\| llvmpipe.* \\| \\*\\*[\\d.]+×\\*\\* \\|`),
      );
      expect(r.stdout).toMatch(new RegExp(`\\| ${method} \\| PyTorch [^|]+ \\| cpu`));
    }
    for (const w of ['f32', 'f16', 'q4'])
      expect(r.stdout).toMatch(new RegExp(`\\| ${w} \\| .* \\| \\*\\*[\\d.]+\\*\\* \\|`));
    expect(r.stdout).not.toMatch(/failed|skipped/);
    expect(readFileSync(path.join(out, 'device-check.md'), 'utf8')).toContain('## Merge Lab device check');
  }, 2_700_000); // lavapipe spends minutes compiling each format's WebGPU EP shaders on 2 loaded cores
});
