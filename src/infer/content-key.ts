/**
 * The checkpoint content key that prepared weights are filed under (./prepared-weights.ts), one
 * scheme for Node (`merge-lab quantize`, --weights-cache) and the page (the OPFS cache):
 *
 *   SHA-256 over the safetensors files and config.json, in name order, each preceded by
 *   `${name}\0${size}\0` and followed by its bytes.
 *
 * Files are read in chunks of `chunkBytes` (never a whole multi-GB shard in memory). The hasher is
 * injected so Node can use its native SHA-256; the default is @noble/hashes' streaming SHA-256,
 * which runs anywhere (the page, workers, tests).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { throwIfAborted } from '../core/errors';
import type { ModelFolder } from '../core/io/byte-source';
import { InferError } from './errors';
import { type WeightOptions, resolveWeightOptions } from './weight-format';

/** A streaming SHA-256. */
export interface Sha256Stream {
  update(bytes: Uint8Array): void;
  /** The digest as 64 lowercase hex digits. */
  hex(): string;
}

/** @noble/hashes' SHA-256 (pure TypeScript, streaming). */
export function nobleSha256(): Sha256Stream {
  const h = sha256.create();
  return {
    update: (bytes) => void h.update(bytes),
    hex: () => bytesToHex(h.digest()),
  };
}

/** Bytes read at a time while hashing (4 MiB). */
export const KEY_CHUNK_BYTES = 1 << 22;

export interface ContentKeyOptions {
  hasher?: () => Sha256Stream;
  signal?: AbortSignal;
  /** Bytes hashed so far of the total (the files are read whole, so this is the slow part). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  chunkBytes?: number;
}

/** The files a content key covers, in hashing order. */
export function keyedFiles(names: readonly string[]): string[] {
  return names.filter((n) => n.endsWith('.safetensors') || n === 'config.json').sort();
}

/** The content key of a checkpoint folder (64 hex digits). */
export async function checkpointContentKey(folder: ModelFolder, opts: ContentKeyOptions = {}): Promise<string> {
  const chunk = opts.chunkBytes ?? KEY_CHUNK_BYTES;
  const sources = [];
  for (const name of keyedFiles(await folder.list())) {
    const src = await folder.open(name);
    if (!src)
      throw new InferError('missing-file', `${folder.name}/${name}: missing`, { file: `${folder.name}/${name}` });
    sources.push({ name, src });
  }
  const total = sources.reduce((a, s) => a + s.src.size, 0);
  const hash = (opts.hasher ?? nobleSha256)();
  const encoder = new TextEncoder();
  let done = 0;
  opts.onProgress?.(0, total);
  for (const { name, src } of sources) {
    hash.update(encoder.encode(`${name}\0${src.size}\0`));
    for (let at = 0; at < src.size; at += chunk) {
      throwIfAborted(opts.signal, 'hashing');
      const bytes = await src.read(at, Math.min(chunk, src.size - at));
      hash.update(bytes);
      done += bytes.byteLength;
      opts.onProgress?.(done, total);
    }
  }
  return hash.hex();
}

/** The name of a cache entry: `<key>.f16`, `<key>.q4-32` (block size included for q4). */
export function cacheEntryName(key: string, o: WeightOptions): string {
  const { format, blockSize } = resolveWeightOptions(o);
  return `${key}.${format === 'q4' ? `q4-${blockSize}` : format}`;
}
