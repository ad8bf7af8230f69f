/**
 * A small, read-only diagnostics surface on `window.mergeLab`, for people checking the lab from
 * the devtools console and for the end-to-end tests: the DARE probe of the merge worker's GPU
 * backend, and the bytes of a merged file. Results are base64 so they survive any serialiser.
 * It uses the page's one merge worker client; it starts no worker of its own.
 */
import type { DareProbeArgs } from '../gpu/dare-probe';
import type { MergeClient } from '../workers/merge-client';
import type { ModelsState } from './state/models.svelte';

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export function installDiagnostics(models: ModelsState, client: MergeClient): void {
  (globalThis as unknown as { mergeLab: unknown }).mergeLab = {
    async dareProbe(args?: DareProbeArgs): Promise<string> {
      return toBase64(await client.dareBytes(args));
    },
    async gpuInfo() {
      return client.gpuInfo();
    },
    async fileBase64(model: string, file: string): Promise<string | undefined> {
      const blob = models.byName(model)?.files.get(file);
      return blob ? toBase64(new Uint8Array(await blob.arrayBuffer())) : undefined;
    },
    models: () =>
      models.entries.map((e) => ({ name: e.name, origin: e.origin, status: e.status, files: [...e.files.keys()] })),
  };
}
