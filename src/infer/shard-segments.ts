/**
 * How an f32 graph mounts the checkpoint's shards as onnxruntime-web external data: each shard as
 * consecutive segments of whole tensors of at most SEGMENT_BYTES (a larger tensor is a segment of
 * its own), so no file handed to the runtime reaches its 2 GB limit however large the shard; a
 * shard that fits is one segment under its own name. A segment is read in place while the session
 * loads where the shard reads synchronously (./on-demand-weights.ts), else copied segment by segment.
 */
import { throwIfAborted } from '../core/errors';
import type { Checkpoint } from '../core/formats/checkpoint';
import type { SafetensorsFile } from '../core/formats/safetensors';
import { DEFAULT_MAX_FILE_BYTES } from './derived-weights';
import { onDemandFromSource } from './on-demand-weights';

export const SEGMENT_BYTES = DEFAULT_MAX_FILE_BYTES;

export interface ShardSegment {
  /** The external-data location the graph names. */
  readonly name: string;
  readonly file: SafetensorsFile;
  /** Byte range of the shard it covers. */
  readonly start: number;
  readonly size: number;
}

/** Every shard's segments, and the segment holding each tensor. */
export function shardSegments(
  ckpt: Checkpoint,
  maxBytes = SEGMENT_BYTES,
): { segments: ShardSegment[]; of: Map<string, ShardSegment> } {
  const segments: ShardSegment[] = [];
  const of = new Map<string, ShardSegment>();
  for (const file of ckpt.shards) {
    const tensors = [...ckpt.tensors.values()].filter((t) => t.file === file).sort((a, b) => a.offset - b.offset);
    if (file.source.size <= maxBytes) {
      const whole = { name: file.name, file, start: 0, size: file.source.size };
      segments.push(whole);
      for (const t of tensors) of.set(t.name, whole);
      continue;
    }
    let group: typeof tensors = [];
    const close = () => {
      if (!group.length) return;
      const start = group[0]!.offset;
      const last = group[group.length - 1]!;
      const seg = {
        name: `${file.name}.part${segments.filter((s) => s.file === file).length}`,
        file,
        start,
        size: last.offset + last.byteLength - start,
      };
      segments.push(seg);
      for (const t of group) of.set(t.name, seg);
      group = [];
    };
    for (const t of tensors) {
      if (group.length && t.offset + t.byteLength - group[0]!.offset > maxBytes) close();
      group.push(t);
    }
    close();
  }
  return { segments, of };
}

/** The bytes of the segments a graph mounts: in place when the shard reads synchronously, else copied. */
export async function segmentData(
  segments: readonly ShardSegment[],
  signal?: AbortSignal,
): Promise<{ path: string; data: Uint8Array }[]> {
  const out: { path: string; data: Uint8Array }[] = [];
  for (const seg of segments) {
    throwIfAborted(signal, 'loading');
    const src = seg.file.source;
    const data = src.readSync
      ? onDemandFromSource(seg.size, (offset, length) => src.readSync!(seg.start + offset, length))
      : await src.read(seg.start, seg.size);
    out.push({ path: seg.name, data });
  }
  return out;
}
