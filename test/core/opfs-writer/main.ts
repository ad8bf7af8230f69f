/**
 * Page for test/core/opfs-writer.test.ts: the sharded writer's positional mode on OPFS
 * (DirectoryOutputFolder, FileSystemWritableFileStream positional writes) against the sequential
 * writer in memory, and abort() on OPFS. `window.__opfsWriter()` returns what it found.
 */
import { DirectoryOutputFolder } from '../../../src/browser/directory-output';
import { type PlannedTensor, ShardedSafetensorsWriter, planShards } from '../../../src/core/formats/safetensors-writer';
import { MemoryOutputFolder } from '../../../src/core/io/output-folder';

const TENSORS: PlannedTensor[] = [
  { name: 'embed', dtype: 'BF16', shape: [100, 6] },
  { name: 'norm', dtype: 'F32', shape: [6] },
  { name: 'q', dtype: 'F16', shape: [60, 6] },
  { name: 'head', dtype: 'BF16', shape: [40, 6] },
];
const CHUNK = 40;
const sizeOf = (t: PlannedTensor) => t.shape.reduce((a, b) => a * b, 1) * (t.dtype === 'F32' ? 4 : 2);
/** Every chunk as [tensor, offset, bytes], in plan order. */
const chunks = TENSORS.flatMap((t, i) => {
  const bytes = Uint8Array.from({ length: sizeOf(t) }, (_, k) => (k * 7 + i * 31 + 1) & 255);
  const out: [number, number, Uint8Array][] = [];
  for (let o = 0; o < bytes.byteLength; o += CHUNK) out.push([i, o, bytes.slice(o, o + CHUNK)]);
  return out;
});

async function opfsFolder(name: string): Promise<DirectoryOutputFolder> {
  const root = await navigator.storage.getDirectory();
  return new DirectoryOutputFolder(await root.getDirectoryHandle(name, { create: true }), name);
}

async function run() {
  const shards = planShards(TENSORS, 1000);
  const memory = new MemoryOutputFolder();
  const sequential = new ShardedSafetensorsWriter(memory, shards, { recipe: 'x' });
  for (const [i, o, c] of chunks) {
    if (o === 0) await sequential.begin(TENSORS[i]!.name);
    await sequential.write(c);
  }
  await sequential.finalize();

  const opfs = await opfsFolder('positional');
  const positional = new ShardedSafetensorsWriter(opfs, shards, { recipe: 'x' });
  // Back to front, all at once: later tensors first, past each file's current end.
  await Promise.all([...chunks].reverse().map(([i, o, c]) => positional.writeTensorAt(i, o, c)));
  await positional.finalize();
  const got = await opfs.files();
  const same: Record<string, boolean> = {};
  for (const [file, want] of memory.files) {
    const bytes = new Uint8Array(await got.get(file)!.arrayBuffer());
    same[file] = bytes.byteLength === want.byteLength && bytes.every((b, k) => b === want[k]);
  }

  const aborted = await opfsFolder('aborted');
  const half = new ShardedSafetensorsWriter(aborted, shards, { recipe: 'x' });
  for (const [i, o, c] of chunks.slice(0, chunks.length / 2)) await half.writeTensorAt(i, o, c);
  const beforeAbort = (await aborted.list()).length;
  await half.abort();
  return { same, opfsFiles: [...got.keys()].sort(), beforeAbort, afterAbort: await aborted.list() };
}

(window as unknown as { __opfsWriter: typeof run }).__opfsWriter = run;
