/**
 * Scale, Node: one Sens-Merging sensitivity pass (forward, streamed head and cross-entropy,
 * backward with per-block recomputation) on a Qwen2.5-0.5B-shaped bf16 checkpoint with random
 * weights and a 256-token sample, in a child process whose peak RSS (VmHWM) must stay within the
 * checkpoint's weight bytes + 300 MB (issue 21).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { QWEN_SHAPES, writeRandomQwen } from '../../tools/random-qwen';
import { SCALE_DIR, gb } from './checkpoint';

const QWEN_05B_DIR = path.join(SCALE_DIR, 'qwen2.5-0.5b-random');
const HEADROOM = 300e6;

async function qwen05bCheckpoint(): Promise<string> {
  const config = path.join(QWEN_05B_DIR, 'config.json');
  const ready =
    existsSync(path.join(QWEN_05B_DIR, 'model.safetensors')) &&
    existsSync(config) &&
    (JSON.parse(readFileSync(config, 'utf8')) as { num_hidden_layers?: number }).num_hidden_layers === 24;
  if (!ready) await writeRandomQwen(QWEN_05B_DIR, { shape: QWEN_SHAPES['0.5b'], dtype: 'BF16', seed: 1 });
  return QWEN_05B_DIR;
}

describe('scale: Sens-Merging sensitivity pass on the Qwen2.5-0.5B shape (Node)', () => {
  it('stays within weights + 300 MB on a 256-token sample', async () => {
    const model = await qwen05bCheckpoint();
    const weights = statSync(path.join(model, 'model.safetensors')).size;
    const t0 = Date.now();
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        './test/scale/peak-rss.mjs',
        'tools/sens/pass-once.ts',
        '--model',
        model,
        '--tokens',
        '256',
      ],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    if (r.status !== 0) throw new Error(`pass failed (${r.status}):\n${r.stderr}`);
    const peak = Number(/peak-rss-bytes (\d+)/.exec(r.stderr)?.[1] ?? NaN);
    console.log(
      `${r.stdout.trim()}; ${((Date.now() - t0) / 1000).toFixed(0)} s in all\n` +
        `peak RSS ${gb(peak)}; weights ${gb(weights)}; limit ${gb(weights + HEADROOM)}`,
    );
    // 24 blocks, the embedding (tied: also the head) and the final norm
    expect(r.stdout).toMatch(/loss \d+\.\d+, 26 layer groups/);
    expect(Number.isFinite(peak)).toBe(true);
    expect(peak).toBeLessThanOrEqual(weights + HEADROOM);
  }, 3_600_000);
});
