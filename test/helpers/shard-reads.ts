/**
 * A model folder whose `.safetensors` reads pass through a hook: tests count reads, cut a shard
 * short or make it fail midway (a disk that goes away during a merge). Other files read unchanged.
 */
import type { ByteSource, ModelFolder } from '../../src/core/io/byte-source';

export type ShardRead = (src: ByteSource, offset: number, length: number) => Promise<Uint8Array>;

export function interceptShardReads(inner: ModelFolder, read: ShardRead): ModelFolder {
  return {
    name: inner.name,
    list: () => inner.list(),
    async open(file) {
      const src = await inner.open(file);
      if (!src || !file.endsWith('.safetensors')) return src;
      const hooked: ByteSource = {
        name: src.name,
        size: src.size,
        read: (offset, length) => read(src, offset, length),
      };
      return hooked;
    },
  };
}
