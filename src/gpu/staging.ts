/**
 * Input chunks read straight into GPU staging memory. A merge's reader asks for a buffer to read a
 * chunk into (`take`) and gets the mapped range of a MAP_WRITE staging buffer; `load` then has the
 * GPU copy it into a storage buffer (`claim`, a copy command) instead of `writeBuffer` first copying
 * it on the CPU. After the copy is submitted the staging buffer is mapped again (`remap`), and once
 * mapped it is taken again. Where the source returns bytes of its own (a Blob), the staging buffer
 * goes back unused. At most `maxBytes` of staging buffers exist; past that, reads go as before.
 */
import type { InputBuffers } from '../core/merge/backend';
import { BufferUsage } from './usage';

const MapModeWrite = 0x0002;
/** Reads under this go through writeBuffer: a copy command per small tensor costs more than it saves. */
const MIN_BYTES = 256 * 1024;
const GRAIN = 1024 * 1024;

export class StagingUploads implements InputBuffers {
  /** Mapped and ready (with their mapped range), smallest first. */
  private readonly idle: { buffer: GPUBuffer; range: ArrayBuffer }[] = [];
  /** Mapped ranges handed out for reads, and their buffers. */
  private readonly lent = new Map<ArrayBufferLike, GPUBuffer>();
  private readonly all = new Set<GPUBuffer>();
  private total = 0;
  /** False once a source returned bytes of its own instead (Blobs): no more ranges are offered. */
  private sourcesReadInto = true;
  private destroyed = false;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBytes: number,
  ) {}

  /** A mapped staging range to read `bytes` into (a view of exactly that length), if one is ready or may be made. */
  take(bytes: number): Uint8Array | undefined {
    if (bytes < MIN_BYTES || !this.sourcesReadInto || this.destroyed) return undefined;
    const i = this.idle.findIndex((b) => b.buffer.size >= bytes && b.buffer.size <= 2 * bytes + GRAIN);
    let ready = i >= 0 ? this.idle.splice(i, 1)[0] : undefined;
    if (!ready) {
      const size = Math.ceil(bytes / GRAIN) * GRAIN;
      if (this.total + size > this.maxBytes) return undefined;
      const buffer = this.device.createBuffer({
        label: 'staging-upload',
        size,
        usage: BufferUsage.MAP_WRITE | BufferUsage.COPY_SRC,
        mappedAtCreation: true,
      });
      this.all.add(buffer);
      this.total += size;
      ready = { buffer, range: buffer.getMappedRange() };
    }
    this.lent.set(ready.range, ready.buffer);
    return new Uint8Array(ready.range, 0, bytes);
  }

  /** The staging buffer `bytes` were read into, unmapped for a copy (undefined: not one of ours). */
  claim(bytes: Uint8Array): GPUBuffer | undefined {
    const buffer = this.lent.get(bytes.buffer);
    if (!buffer) return undefined;
    this.lent.delete(bytes.buffer);
    buffer.unmap();
    return buffer;
  }

  /** A range lent for a read that was not made, or filled other bytes (`readInto` false: a Blob's); ready again. */
  unused(view: Uint8Array, readInto = true): void {
    const buffer = this.lent.get(view.buffer);
    if (!buffer) return;
    this.lent.delete(view.buffer);
    if (readInto) return this.ready(buffer, view.buffer as ArrayBuffer);
    this.sourcesReadInto = false;
    this.drop(buffer);
  }

  /** After the copy out of `buffer` is submitted: mapped again once the GPU is done with it. */
  remap(buffer: GPUBuffer, whileAlive: <T>(wait: Promise<T>) => Promise<T>): void {
    whileAlive(buffer.mapAsync(MapModeWrite)).then(
      () => this.all.has(buffer) && this.ready(buffer, buffer.getMappedRange()),
      () => this.drop(buffer),
    );
  }

  destroyAll(): void {
    this.destroyed = true;
    for (const b of this.all) b.destroy();
    this.all.clear();
    this.idle.length = 0;
    this.lent.clear();
    this.total = 0;
  }

  private ready(buffer: GPUBuffer, range: ArrayBuffer): void {
    if (!this.all.has(buffer)) return; // destroyed meanwhile
    this.idle.push({ buffer, range });
    this.idle.sort((a, b) => a.buffer.size - b.buffer.size);
  }

  private drop(buffer: GPUBuffer): void {
    if (!this.all.delete(buffer)) return;
    this.total -= buffer.size;
    buffer.destroy();
  }
}
