/**
 * Room in the origin-private file system for a merge: the browser's persistent-storage grant is
 * asked for once (so the merges kept there are not evicted under storage pressure), a merge whose
 * output cannot fit the quota is refused before it starts, with the numbers, and a quota error
 * while writing becomes the same typed error.
 */
import { LabError } from '../core/errors';
import { formatBytes } from '../core/units';

export class StorageFullError extends LabError {
  override readonly name = 'StorageFullError';
  readonly code = 'storage-full';
}

/** Headroom kept free beyond the output's own bytes (index, config, tokenizer, the browser's bookkeeping). */
export const OPFS_MARGIN_BYTES = 64 << 20;

/** Asks the browser to keep this origin's storage (no-op where unsupported); whether it is persistent. */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = typeof navigator !== 'undefined' ? navigator.storage : undefined;
  if (!storage?.persist) return false;
  return (await storage.persisted?.().catch(() => false)) || (await storage.persist().catch(() => false));
}

/** Refuses, before anything is written, a merge of `bytes` that the origin's quota cannot hold. */
export async function checkOpfsRoom(bytes: number, folder: string): Promise<void> {
  const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
  if (!estimate?.quota) return; // unknown: the write itself will tell
  const free = estimate.quota - (estimate.usage ?? 0);
  if (bytes + OPFS_MARGIN_BYTES <= free) return;
  throw new StorageFullError(
    `${folder}: this merge writes ${formatBytes(bytes)}, but the browser lets the lab store only ${formatBytes(Math.max(0, free))} more ` +
      `(quota ${formatBytes(estimate.quota)}, ${formatBytes(estimate.usage ?? 0)} used). Delete merges kept in this browser, ` +
      `or free disk space, and merge again.`,
    { file: folder },
  );
}

/** A write that hit the quota, as a StorageFullError naming the file; other errors unchanged. */
export function asStorageFull(e: unknown, file: string): unknown {
  return e instanceof DOMException && e.name === 'QuotaExceededError'
    ? new StorageFullError(
        `${file}: the browser's storage quota ran out while writing; the merge stopped, and nothing it wrote counts as a model (delete merges kept in this browser to make room)`,
        {
          file,
        },
      )
    : e;
}
