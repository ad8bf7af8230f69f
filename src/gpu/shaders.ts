/**
 * The WGSL sources of every kernel in src/gpu/kernels.ts, composed for compilation: WGSL has no
 * includes, so each kernel's source is shaders/common.wgsl, then its `includes` (e.g. rng.wgsl),
 * then shaders/<name>.wgsl.
 * - Under Vite and vitest: files bundled with `import.meta.glob(…, { query: '?raw' })`.
 * - Under plain Node/tsx (the CLI), where `import.meta.glob` does not exist: read with fs.
 */
import { COMMON_WGSL, KERNELS, KERNEL_NAMES, type KernelName } from './kernels';

export type ShaderSources = Readonly<Record<KernelName, string>>;

function bundled(): Record<string, string> | undefined {
  try {
    const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<
      string,
      string
    >;
    const out: Record<string, string> = {};
    for (const [p, src] of Object.entries(files)) out[p.replace(/^.*\//, '').replace(/\.wgsl$/, '')] = src;
    return out;
  } catch {
    return undefined; // not transformed by Vite
  }
}

async function readAll(): Promise<Record<string, string>> {
  const b = bundled();
  if (b && Object.keys(b).length) return b;
  const fsName = 'node:fs/promises';
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
  const dir = new URL('../../shaders/', import.meta.url);
  const out: Record<string, string> = {};
  for (const f of await fs.readdir(dir))
    if (f.endsWith('.wgsl')) out[f.slice(0, -5)] = await fs.readFile(new URL(f, dir), 'utf8');
  return out;
}

/** The files, in order, that make up `kernel`'s source. */
export function sourceFiles(kernel: KernelName): string[] {
  return [COMMON_WGSL, ...(KERNELS[kernel].includes ?? []), kernel];
}

/** `kernel`'s source composed from raw .wgsl file contents keyed by file name. */
export function composeSource(kernel: KernelName, files: Readonly<Record<string, string>>): string {
  return sourceFiles(kernel)
    .map((f) => {
      const s = files[f];
      if (s === undefined) throw new Error(`shaders/${f}.wgsl is missing`);
      return s;
    })
    .join('\n');
}

let cache: Promise<ShaderSources> | undefined;

/** Every kernel's composed source, keyed by kernel name (read once per process or page). */
export function loadShaders(): Promise<ShaderSources> {
  cache ??= readAll().then(
    (files) => Object.fromEntries(KERNEL_NAMES.map((k) => [k, composeSource(k, files)])) as ShaderSources,
  );
  return cache;
}
