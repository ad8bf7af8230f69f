/**
 * The checkpoint content key (src/infer/content-key.ts), one scheme for Node and the page: the
 * page's streaming hash (@noble/hashes over Blobs, small chunks) equals Node's `checkpointKey`
 * (native SHA-256 over the folder on disk) on the demo model and on a 3-shard bf16 checkpoint;
 * both equal the scheme written out by hand; files are read in chunks (never whole), progress
 * reaches the total, cancelling rejects with an AbortError, and the cache entry names match.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAbortError } from '../../src/core/errors';
import { type ByteSource, MapModelFolder, type ModelFolder } from '../../src/core/io/byte-source';
import { cacheEntryName, checkpointContentKey, keyedFiles } from '../../src/infer/content-key';
import { cacheEntry, checkpointKey } from '../../src/node/weights-cache';
import { writeTinyModel } from '../helpers/checkpoints';

const QUICK = 'public/models/demo-quick';
const tmp = mkdtempSync(path.join(tmpdir(), 'merge-lab-key-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SHARDED = path.join(tmp, 'sharded-bf16');
writeTinyModel(SHARDED, { seed: 5, hidden: 64, intermediate: 96, vocab: 80, layers: 3, dtype: 'BF16', shards: 3 });

/** The folder as the page has it: every file a Blob (a File from a picker, or a fetched demo). */
const blobFolder = (dir: string) =>
  new MapModelFolder(
    path.basename(dir),
    new Map(readdirSync(dir).map((f) => [f, new Blob([readFileSync(path.join(dir, f))])])),
  );

/** The scheme written out by hand over whole files (fine for these small folders). */
function byHand(dir: string): string {
  const h = createHash('sha256');
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.safetensors') || n === 'config.json')
    .sort()) {
    h.update(`${name}\0${statSync(path.join(dir, name)).size}\0`);
    h.update(readFileSync(path.join(dir, name)));
  }
  return h.digest('hex');
}

/** Records the length of every read. */
function recording(folder: ModelFolder, reads: number[]): ModelFolder {
  return {
    name: folder.name,
    list: () => folder.list(),
    async open(file) {
      const src = await folder.open(file);
      return (
        src &&
        ({
          name: src.name,
          size: src.size,
          read: (offset, length) => {
            reads.push(length);
            return src.read(offset, length);
          },
        } satisfies ByteSource)
      );
    },
  };
}

describe('checkpoint content key', () => {
  for (const [label, dir] of [
    ['demo-quick', QUICK],
    ['a 3-shard bf16 checkpoint', SHARDED],
  ] as const)
    it(`the page's streaming hash equals Node's on ${label}`, async () => {
      const node = await checkpointKey(dir);
      expect(node).toMatch(/^[0-9a-f]{64}$/);
      expect(node).toBe(byHand(dir));
      // Chunks far smaller than the files, so the streaming path crosses many chunk boundaries.
      const page = await checkpointContentKey(blobFolder(dir), { chunkBytes: 4099 });
      expect(page).toBe(node);
    });

  it('reads in chunks, reports progress up to the total and covers only weights and config', async () => {
    const reads: number[] = [];
    const progress: [number, number][] = [];
    const folder = recording(blobFolder(SHARDED), reads);
    await checkpointContentKey(folder, { chunkBytes: 1000, onProgress: (d, t) => void progress.push([d, t]) });
    const keyed = keyedFiles(readdirSync(SHARDED));
    expect(keyed).toEqual([
      'config.json',
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
    ]);
    const total = keyed.reduce((a, f) => a + statSync(path.join(SHARDED, f)).size, 0);
    expect(Math.max(...reads)).toBeLessThanOrEqual(1000);
    expect(reads.reduce((a, b) => a + b, 0)).toBe(total);
    expect(progress.at(-1)).toEqual([total, total]);
    expect(progress.every(([d], i) => i === 0 || d >= progress[i - 1]![0])).toBe(true);
  });

  it('a changed config or shard changes the key; a tokenizer file does not', async () => {
    const files = new Map<string, Uint8Array>(
      readdirSync(QUICK).map((f) => [f, new Uint8Array(readFileSync(path.join(QUICK, f)))]),
    );
    const keyOf = (m: Map<string, Uint8Array>) => checkpointContentKey(new MapModelFolder('m', m));
    const base = await keyOf(files);
    const tok = new Map(files).set('tokenizer.json', new TextEncoder().encode('{}'));
    expect(await keyOf(tok)).toBe(base);
    const cfg = new Map(files).set('config.json', new TextEncoder().encode('{"x":1}'));
    expect(await keyOf(cfg)).not.toBe(base);
    const shard = new Uint8Array(files.get('model.safetensors')!);
    shard[shard.length - 1]! ^= 1;
    expect(await keyOf(new Map(files).set('model.safetensors', shard))).not.toBe(base);
  });

  it('cancelling rejects with an AbortError', async () => {
    const ac = new AbortController();
    const e = await checkpointContentKey(blobFolder(SHARDED), {
      chunkBytes: 1000,
      signal: ac.signal,
      onProgress: (d) => d > 0 && ac.abort(),
    }).catch((err: unknown) => err);
    expect(isAbortError(e)).toBe(true);
  });

  it("the page's cache entry names are Node's", () => {
    const key = 'a'.repeat(64);
    expect(cacheEntryName(key, { weights: 'q4', blockSize: 64 })).toBe(`${key}.q4-64`);
    expect(cacheEntryName(key, { weights: 'f16' })).toBe(`${key}.f16`);
    expect(path.basename(cacheEntry('/root', key, { weights: 'q4' }))).toBe(cacheEntryName(key, { weights: 'q4' }));
  });
});
