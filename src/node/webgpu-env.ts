/**
 * WebGPU in Node, prepared in one place for every Node entry point (the CLI's merge, generate,
 * eval, calibrate and sweep, the benchmarks and the tests): Dawn from the optional `webgpu`
 * package, on the project's lavapipe when no Vulkan driver is named.
 *
 * - Vulkan ICD: VK_ICD_FILENAMES defaults to .cache/vulkan/lvp_icd.json (written by
 *   scripts/setup-vulkan.sh) when unset and present; Dawn also gets a private XDG_RUNTIME_DIR.
 *   The Vulkan loader reads them when Dawn starts, so they are set before the package loads.
 *   Only the main thread of a process can set them (a worker thread's process.env is a copy
 *   that native code never sees): vitest runs test files in forked processes for that reason.
 * - Dawn's `navigator.gpu` is created once per process and installed as `navigator.gpu` (with
 *   Dawn's GPU* globals) so that onnxruntime-web's WebGPU EP finds it as in a browser.
 * - onnxruntime-web hands `GPUQueue.writeBuffer` views of wasm memory, a SharedArrayBuffer;
 *   Dawn rejects those (the process aborts), so such data is copied into a plain array first.
 * - Without the `webgpu` package every caller gets a DawnMissingError that says how to get it.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError } from '../core/errors';

/** The ICD json scripts/setup-vulkan.sh writes (lavapipe from Mesa 25). */
const PROJECT_ICD = fileURLToPath(new URL('../../.cache/vulkan/lvp_icd.json', import.meta.url));

const SETUP_HINT = 'run `bash scripts/setup-vulkan.sh` (lavapipe from Mesa 25, for machines without a GPU)';

/** The optional `webgpu` package (Dawn) is not installed. */
export class DawnMissingError extends LabError {
  override readonly name = 'DawnMissingError';
  readonly code = 'dawn-missing';
  constructor(detail: string) {
    super(
      `WebGPU in Node needs the optional 'webgpu' package (Dawn), which is not installed (${detail}); ` +
        'install it with `npm install webgpu`',
    );
  }
}

/** Points Vulkan at the project's lavapipe when no ICD is named, gives Dawn a runtime dir; returns the ICD in use. */
function ensureVulkanEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!env.VK_ICD_FILENAMES && existsSync(PROJECT_ICD)) env.VK_ICD_FILENAMES = PROJECT_ICD;
  if (!env.XDG_RUNTIME_DIR) {
    const dir = path.join(tmpdir(), `merge-lab-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o700);
    env.XDG_RUNTIME_DIR = dir;
  }
  return env.VK_ICD_FILENAMES;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/** A variable, so that neither TypeScript nor a bundler needs the optional package to be there. */
const DAWN_PACKAGE = 'webgpu';

async function importDawn(): Promise<DawnModule> {
  try {
    return (await import(/* @vite-ignore */ DAWN_PACKAGE)) as DawnModule;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
      throw new DawnMissingError((e as Error).message.split('\n')[0]!);
    throw e;
  }
}

const SHIMMED = Symbol.for('merge-lab.writeBufferCopiesShared');

/** Dawn's writeBuffer, taught to accept SharedArrayBuffer-backed data by copying it. */
function shimWriteBuffer(queueClass: unknown): void {
  const proto = (queueClass as { prototype?: GPUQueue & { [SHIMMED]?: true } } | undefined)?.prototype;
  if (!proto || proto[SHIMMED]) return;
  const original = proto.writeBuffer;
  proto.writeBuffer = function (this: GPUQueue, buffer, offset, data, dataOffset?, size?) {
    const view = ArrayBuffer.isView(data) ? data : undefined;
    const backing = view ? view.buffer : (data as ArrayBufferLike);
    if (typeof SharedArrayBuffer === 'undefined' || !(backing instanceof SharedArrayBuffer))
      return original.call(this, buffer, offset, data, dataOffset, size);
    // dataOffset and size count elements of a typed array, bytes otherwise.
    const elem = (view as { BYTES_PER_ELEMENT?: number } | undefined)?.BYTES_PER_ELEMENT ?? 1;
    const start = (view?.byteOffset ?? 0) + (dataOffset ?? 0) * elem;
    const length =
      size !== undefined ? size * elem : (view ? view.byteLength : backing.byteLength) - (dataOffset ?? 0) * elem;
    return original.call(this, buffer, offset, new Uint8Array(backing, start, length).slice());
  } as GPUQueue['writeBuffer'];
  proto[SHIMMED] = true;
}

/** Makes `gpu` the process's `navigator.gpu` (Node 21+ has a navigator without one; Node 20 has none). */
function installNavigatorGpu(gpu: GPU): void {
  const g = globalThis as { navigator?: object };
  if (!g.navigator)
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
}

let dawn: Promise<GPU> | undefined;

/** Dawn's `navigator.gpu` for this process: created once, after the Vulkan environment is set. */
export function nodeGpu(): Promise<GPU> {
  dawn ??= (async () => {
    ensureVulkanEnv();
    const { create, globals } = await importDawn();
    Object.assign(globalThis, globals);
    shimWriteBuffer(globals.GPUQueue);
    const gpu = create([]);
    installNavigatorGpu(gpu);
    return gpu;
  })();
  return dawn;
}

export type NodeAdapterProbe = { ok: true; name: string } | { ok: false; reason: string };

/** Whether Dawn finds an adapter here, and its name (is it a CPU one? `isSoftwareAdapter` in src/gpu/device.ts). */
export async function probeNodeAdapter(): Promise<NodeAdapterProbe> {
  try {
    const adapter = await (await nodeGpu()).requestAdapter();
    if (!adapter)
      return {
        ok: false,
        reason: `no WebGPU adapter (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'}); ${SETUP_HINT}`,
      };
    const i = adapter.info;
    const name =
      [i?.vendor, i?.architecture, i?.device, i?.description].filter((s) => s).join(' ') || 'unknown adapter';
    return { ok: true, name };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}
