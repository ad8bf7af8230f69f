/**
 * The refusal before a merge whose output the origin's storage cannot hold (src/browser/opfs-room.ts):
 * the numbers come from navigator.storage.estimate, given here as the browser would report them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OPFS_MARGIN_BYTES, StorageFullError, asStorageFull, checkOpfsRoom } from '../../src/browser/opfs-room';

const realNavigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
function browserReports(estimate: StorageEstimate | undefined): void {
  Object.defineProperty(globalThis, 'navigator', {
    configurable: true,
    value: { storage: estimate ? { estimate: async () => estimate } : undefined },
  });
}
afterEach(() => {
  if (realNavigator) Object.defineProperty(globalThis, 'navigator', realNavigator);
  else delete (globalThis as { navigator?: unknown }).navigator;
});

describe('room in OPFS for a merge', () => {
  it('refuses an output larger than the quota left, naming the folder and the numbers', async () => {
    browserReports({ quota: 2e9, usage: 1.5e9 });
    const err = await checkOpfsRoom(3.1e9, 'merge-lab-merge-1-ties').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageFullError);
    expect(err).toMatchObject({ code: 'storage-full', file: 'merge-lab-merge-1-ties' });
    expect((err as Error).message).toBe(
      'merge-lab-merge-1-ties: this merge writes 3.1 GB, but the browser lets the lab store only 500.0 MB more ' +
        '(quota 2.0 GB, 1.5 GB used). Delete merges kept in this browser, or free disk space, and merge again.',
    );
  });

  it('lets a merge through when it fits with the margin, and when the browser gives no estimate', async () => {
    browserReports({ quota: 2e9, usage: 0.5e9 });
    await expect(checkOpfsRoom(1.5e9 - OPFS_MARGIN_BYTES, 'm')).resolves.toBeUndefined();
    await expect(checkOpfsRoom(1.5e9 - OPFS_MARGIN_BYTES + 1, 'm')).rejects.toBeInstanceOf(StorageFullError);
    browserReports(undefined);
    await expect(checkOpfsRoom(1e15, 'm')).resolves.toBeUndefined();
  });

  it('turns a QuotaExceededError into a StorageFullError naming the file, and leaves other errors', () => {
    const quota = asStorageFull(new DOMException('full', 'QuotaExceededError'), 'model.safetensors.partial');
    expect(quota).toBeInstanceOf(StorageFullError);
    expect(quota).toMatchObject({ file: 'model.safetensors.partial' });
    const other = new DOMException('gone', 'NotFoundError');
    expect(asStorageFull(other, 'x')).toBe(other);
  });
});
