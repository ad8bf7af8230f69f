/**
 * Scale, Node: a Qwen2.5-1.5B-shaped bf16 checkpoint (3.1 GB, one shard over 2 GB) through
 * `merge-lab generate --weights q4 --ep wasm --max-new-tokens 8`, with the process's peak RSS; and
 * the memory plan refusing f32 on wasm before reading a weight, naming q4.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { gb, qwen15bCheckpoint } from './checkpoint';

/** Target from issue 16: peak RSS ≤ 2.5 GB for the q4 generation on wasm. */
const PEAK_RSS_TARGET = 2.5e9;

function generate(model: string, weights: string) {
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './test/scale/peak-rss.mjs',
      'src/cli/main.ts',
      'generate',
      '--model',
      model,
      '--prompt',
      'What is 12 + 30?',
      '--weights',
      weights,
      '--ep',
      'wasm',
      '--max-new-tokens',
      '8',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  const peak = Number(/peak-rss-bytes (\d+)/.exec(r.stderr)?.[1] ?? NaN);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, peak, seconds: (Date.now() - t0) / 1000 };
}

describe('scale: Qwen2.5-1.5B shape in Node (wasm)', () => {
  it('the plan refuses f32 before reading weights and names q4', async () => {
    const model = await qwen15bCheckpoint();
    const r = generate(model, 'f32');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/does not fit|over the/);
    expect(r.stderr).toMatch(/q4 \(blocks of 32\) fits/);
    // Refused from the plan: far below the 6 GB an f32 session would need.
    expect(r.peak).toBeLessThan(1e9);
    console.log(`f32 refused in ${r.seconds.toFixed(1)} s, peak RSS ${gb(r.peak)}`);
  }, 600_000);

  it('q4 generates 8 tokens with peak RSS within 2.5 GB', async () => {
    const model = await qwen15bCheckpoint();
    const r = generate(model, 'q4');
    if (r.status !== 0) throw new Error(`generate failed (${r.status}):\n${r.stderr}`);
    const finish = /finish: .*/.exec(r.stderr)?.[0];
    expect(finish).toMatch(/8 new tokens/);
    console.log(
      `q4 on wasm: ${r.seconds.toFixed(0)} s in all; ${/loaded in [\d.]+ s/.exec(r.stderr)?.[0]}; ${finish}\n` +
        `peak RSS ${gb(r.peak)} (target ${gb(PEAK_RSS_TARGET)})`,
    );
    expect(Number.isFinite(r.peak)).toBe(true);
    expect(r.peak).toBeLessThanOrEqual(PEAK_RSS_TARGET);
  }, 1_200_000);
});
