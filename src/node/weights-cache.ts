/**
 * Node side of prepared weights (../infer/prepared-weights.ts): the checkpoint's content key,
 * `quantizeTo` (derive a checkpoint's f16 / q4 files once and write them with their manifest), and
 * a cache folder keyed by content and format that later loads reuse.
 *
 * The content key (../infer/content-key.ts, the scheme the page's OPFS cache shares) is a SHA-256
 * over every safetensors file's bytes and config.json: reading a checkpoint once costs far less
 * than packing it, and any different checkpoint (a merge with another α included) gets another key.
 * A folder being written is named `<out>.partial` and renamed only when complete, so an
 * interrupted run never leaves a folder that looks complete.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { throwIfAborted } from '../core/errors';
import { Checkpoint } from '../core/formats/checkpoint';
import { type Sha256Stream, cacheEntryName, checkpointContentKey } from '../infer/content-key';
import { InferError } from '../infer/errors';
import type { ProduceOptions } from '../infer/derived-weights';
import { buildGraph } from '../infer/graph';
import { specOf, weightRefs } from '../infer/model';
import { MANIFEST_NAME, type PreparedWeights, weightsManifest } from '../infer/prepared-weights';
import { type WeightOptions, resolveWeightOptions } from '../infer/weight-format';
import { FsModelFolder } from './fs-folder';

/** The checkpoint's content key (../infer/content-key.ts), hashed with Node's native SHA-256. */
export async function checkpointKey(
  dir: string,
  signal?: AbortSignal,
  onProgress?: (doneBytes: number, totalBytes: number) => void,
): Promise<string> {
  const folder = new FsModelFolder(dir);
  try {
    return await checkpointContentKey(folder, {
      hasher: nodeSha256,
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
  } finally {
    await folder.close();
  }
}

function nodeSha256(): Sha256Stream {
  const h = createHash('sha256');
  return { update: (bytes) => void h.update(bytes), hex: () => h.digest('hex') };
}

/** The default cache root: $XDG_CACHE_HOME/merge-lab-weights, else ~/.cache/merge-lab-weights. */
export function defaultCacheRoot(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'merge-lab-weights');
}

/** The cache entry of one checkpoint content and format under `root`. */
export function cacheEntry(root: string, key: string, o: WeightOptions): string {
  return path.join(root, cacheEntryName(key, o));
}

export interface QuantizeOptions extends WeightOptions {
  signal?: AbortSignal;
  onTensor?: (done: number, total: number) => void;
  externalFileBytes?: number;
  /** The checkpoint's content key, when already computed. */
  key?: string;
  /** Packs q4 rows (the WGSL packer, `merge-lab quantize --backend webgpu`); default the CPU spec. */
  packQ4?: ProduceOptions['packQ4'];
  chunkElements?: number;
}

/**
 * Derives the checkpoint's f16 / q4 weights (the bytes a load would make) and writes them with
 * their manifest to `out`, through `<out>.partial` (removed on failure or cancel).
 */
export async function quantizeTo(modelDir: string, out: string, opts: QuantizeOptions): Promise<{ bytes: number }> {
  const { format, blockSize } = resolveWeightOptions(opts);
  const key = opts.key ?? (await checkpointKey(modelDir, opts.signal));
  const folder = new FsModelFolder(modelDir);
  const partial = `${out}.partial`;
  try {
    const ckpt = await Checkpoint.open(folder, { requireConfig: true });
    const graph = buildGraph(specOf(ckpt), weightRefs(ckpt), { ...opts, weights: format, blockSize });
    if (!graph.derived)
      throw new InferError('bad-options', 'f32 weights are read in place from the checkpoint: nothing to prepare', {
        field: 'weights',
      });
    await fs.rm(partial, { recursive: true, force: true });
    await fs.mkdir(partial, { recursive: true });
    // Written tensor by tensor at their offsets: the packed weights are never whole in memory.
    const handles = new Map<string, fs.FileHandle>();
    try {
      for (const [name, bytes] of graph.derived.locations.map((n, i) => [n, graph.derived!.fileBytes[i]!] as const)) {
        const h = await fs.open(path.join(partial, name), 'w');
        handles.set(name, h);
        await h.truncate(bytes);
      }
      await graph.derived.produce(
        ckpt,
        async (file, at, bytes) => void (await handles.get(file)!.write(bytes, 0, bytes.byteLength, at)),
        opts,
      );
    } finally {
      await Promise.all([...handles.values()].map((h) => h.close()));
    }
    const manifest = weightsManifest(graph.derived, key, format, blockSize);
    await fs.writeFile(path.join(partial, MANIFEST_NAME), JSON.stringify(manifest, null, 1));
    throwIfAborted(opts.signal, 'quantize');
    await fs.rm(out, { recursive: true, force: true });
    await fs.rename(partial, out);
    return { bytes: graph.derived.totalBytes };
  } catch (e) {
    await fs.rm(partial, { recursive: true, force: true });
    throw e;
  } finally {
    await folder.close();
  }
}

/**
 * The prepared weights for loading `modelDir` in a format through the cache under `root`:
 * the cache entry, made first when missing. f32 needs none (undefined).
 */
export async function cachedWeights(
  modelDir: string,
  root: string,
  opts: QuantizeOptions,
): Promise<PreparedWeights | undefined> {
  if (resolveWeightOptions(opts).format === 'f32') return undefined;
  const key = await checkpointKey(modelDir, opts.signal);
  const entry = cacheEntry(root, key, opts);
  const exists = await fs.stat(path.join(entry, MANIFEST_NAME)).then(
    () => true,
    () => false,
  );
  if (!exists) await quantizeTo(modelDir, entry, { ...opts, key });
  return { dir: new FsModelFolder(entry), key };
}
