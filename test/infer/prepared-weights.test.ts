/**
 * Prepared weights: `quantizeTo` writes demo-quick's q4 weights with a manifest; a load handed that
 * folder gives the logits of a fresh q4 load (Δ = 0) without deriving anything; another
 * checkpoint's folder is passed over with a notice; a damaged folder is an InferError naming the
 * file; a cancelled run leaves nothing that looks complete; the cache reuses a first run's files.
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type LabWarning, isAbortError } from '../../src/core/errors';
import { DerivedWeights } from '../../src/infer/derived-weights';
import { InferError } from '../../src/infer/errors';
import { CausalLM, type LoadOptions } from '../../src/infer/model';
import { MANIFEST_NAME } from '../../src/infer/prepared-weights';
import { FsModelFolder } from '../../src/node/fs-folder';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { cachedWeights, checkpointKey, quantizeTo } from '../../src/node/weights-cache';
import { writeTinyModel } from '../helpers/checkpoints';

const QUICK = 'public/models/demo-quick';
const IDS = [3, 17, 5, 42, 9, 1];
const adapter = nodeRuntimeAdapter();
const tmp = mkdtempSync(path.join(tmpdir(), 'merge-lab-prepared-'));
const opened: FsModelFolder[] = [];
/** A prepared folder, closed after the tests. */
const dirOf = (dir: string) => {
  const f = new FsModelFolder(dir);
  opened.push(f);
  return f;
};
afterAll(async () => {
  await Promise.all(opened.map((f) => f.close()));
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => vi.restoreAllMocks());

async function logits(opts: LoadOptions): Promise<Float32Array> {
  const folder = new FsModelFolder(QUICK);
  try {
    // Whole files (onDemand: false), so `materialize` marks every packing these tests count.
    const lm = await CausalLM.load(folder, {
      ep: 'wasm',
      adapter,
      allLogits: true,
      weights: 'q4',
      onDemand: false,
      ...opts,
    });
    const { logits } = await lm.forward(IDS);
    await lm.release();
    return logits;
  } finally {
    await folder.close();
  }
}

async function loadError(dir: string, key: string): Promise<unknown> {
  return logits({ prepared: { dir: dirOf(dir), key } }).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('prepared q4 weights', () => {
  const out = path.join(tmp, 'quick-q4');
  let key = '';

  it('a load from the quantized folder equals a fresh q4 load, and derives nothing', async () => {
    key = await checkpointKey(QUICK);
    await quantizeTo(QUICK, out, { weights: 'q4', key });
    expect(readdirSync(out).sort()).toEqual(['merge-lab.weights.0.bin', MANIFEST_NAME]);
    const fresh = await logits({});
    const materialize = vi.spyOn(DerivedWeights.prototype, 'materialize');
    const reused = await logits({ prepared: { dir: dirOf(out), key } });
    expect(materialize).not.toHaveBeenCalled();
    expect(reused).toEqual(fresh); // Δ = 0
  });

  it("another checkpoint's folder (or format) is passed over with a notice and packed again", async () => {
    const warnings: LabWarning[] = [];
    const materialize = vi.spyOn(DerivedWeights.prototype, 'materialize');
    await logits({ prepared: { dir: dirOf(out), key: 'another-model' }, onWarning: (w) => warnings.push(w) });
    await logits({ weights: 'q4', blockSize: 64, prepared: { dir: dirOf(out), key } });
    expect(materialize).toHaveBeenCalledTimes(2);
    expect(warnings.map((w) => w.code)).toContain('prepared-weights-mismatch');
  });

  it('a truncated manifest or a missing weights file is an InferError naming the file', async () => {
    const bad = path.join(tmp, 'bad');
    cpSync(out, bad, { recursive: true });
    truncateSync(path.join(bad, MANIFEST_NAME), 40);
    const e1 = await loadError(bad, key);
    expect(e1).toBeInstanceOf(InferError);
    expect((e1 as InferError).file).toContain(MANIFEST_NAME);
    cpSync(path.join(out, MANIFEST_NAME), path.join(bad, MANIFEST_NAME));
    rmSync(path.join(bad, 'merge-lab.weights.0.bin'));
    const e2 = await loadError(bad, key);
    expect(e2).toBeInstanceOf(InferError);
    expect((e2 as InferError).file).toContain('merge-lab.weights.0.bin');
  });

  it('a cancelled quantize leaves nothing that looks complete', async () => {
    const cancelled = path.join(tmp, 'cancelled');
    const ac = new AbortController();
    const run = quantizeTo(QUICK, cancelled, { weights: 'q4', signal: ac.signal, onTensor: () => ac.abort() });
    const e = await run.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isAbortError(e)).toBe(true);
    expect(existsSync(cancelled)).toBe(false);
    expect(existsSync(`${cancelled}.partial`)).toBe(false);
  });

  it('the cache: a second run reuses the first one; a changed checkpoint gets another key', async () => {
    const root = path.join(tmp, 'cache');
    const produce = vi.spyOn(DerivedWeights.prototype, 'produce');
    const first = await cachedWeights(QUICK, root, { weights: 'q4' });
    const second = await cachedWeights(QUICK, root, { weights: 'q4' });
    opened.push(first!.dir as FsModelFolder, second!.dir as FsModelFolder);
    expect(produce).toHaveBeenCalledTimes(1);
    expect(second!.key).toBe(first!.key);
    expect(await logits({ prepared: second! })).toEqual(await logits({}));
    const other = path.join(tmp, 'other-model');
    cpSync(QUICK, other, { recursive: true });
    const shard = readdirSync(other).find((n) => n.endsWith('.safetensors'))!;
    writeFileSync(path.join(other, shard), Buffer.from('x'), { flag: 'a' });
    expect(await checkpointKey(other)).not.toBe(first!.key);
  });

  it('merge-lab quantize writes the folder from the command line', async () => {
    const cliOut = path.join(tmp, 'cli-f16');
    const args = ['quantize', '--model', QUICK, '--weights', 'f16', '--out', cliOut];
    const { stderr } = await promisify(execFile)('node', [path.resolve('bin/merge-lab.mjs'), ...args]);
    expect(stderr).toMatch(/wrote .* of f16 weights/);
    expect(readdirSync(cliOut)).toContain(MANIFEST_NAME);
  });

  it('merge-lab quantize --backend webgpu (the WGSL packer) writes the same bytes as the CPU spec', async () => {
    const model = path.join(tmp, 'bf16-model');
    writeTinyModel(model, { seed: 21, hidden: 256, intermediate: 384, vocab: 96, layers: 2, dtype: 'BF16' });
    const run = (backend: string, out: string) =>
      promisify(execFile)('node', [
        path.resolve('bin/merge-lab.mjs'),
        ...['quantize', '--model', model, '--weights', 'q4', '--block-size', '64', '--backend', backend, '--out', out],
      ]);
    const [cpu, gpu] = [path.join(tmp, 'q4-cpu'), path.join(tmp, 'q4-gpu')];
    await run('cpu', cpu);
    const { stderr } = await run('webgpu', gpu);
    expect(stderr).toMatch(/q4 packer: backend: webgpu/);
    for (const name of readdirSync(cpu))
      expect(readFileSync(path.join(gpu, name))).toEqual(readFileSync(path.join(cpu, name)));
  });

  it("generate --weights-cache: the second run reuses the first one's q4 weights and answers the same", async () => {
    const root = path.join(tmp, 'cli-cache');
    const args = [
      'generate',
      '--model',
      QUICK,
      '--prompt',
      'Tom has 4 coins.',
      '--max-new-tokens',
      '6',
      '--ep',
      'wasm',
    ];
    const flags = ['--weights', 'q4', '--weights-cache', root];
    const exec = () => promisify(execFile)('node', [path.resolve('bin/merge-lab.mjs'), ...args, ...flags]);
    const first = await exec();
    const entries = readdirSync(root);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/^[0-9a-f]{64}\.q4-32$/);
    const bin = path.join(root, entries[0]!, 'merge-lab.weights.0.bin');
    const written = statSync(bin).mtimeMs;
    const second = await exec();
    expect(second.stdout).toBe(first.stdout);
    expect(readdirSync(root)).toEqual(entries);
    expect(statSync(bin).mtimeMs).toBe(written); // not packed again
  });
});
