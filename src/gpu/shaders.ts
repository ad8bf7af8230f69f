/**
 * The WGSL sources in shaders/, one file per kernel, as strings.
 * - Under Vite and vitest: bundled with `import.meta.glob(…, { query: '?raw' })`.
 * - Under plain Node/tsx (the CLI), where `import.meta.glob` does not exist: read with fs.
 * dare-mask.wgsl is prefixed with rng.wgsl (WGSL has no includes).
 */
export type ShaderName =
  | 'dtype'
  | 'delta'
  | 'weighted-sum'
  | 'abs-histogram'
  | 'magnitude-band'
  | 'dare-mask'
  | 'elect-sign'
  | 'disjoint-mean'
  | 'dot'
  | 'aim-scale';

const PRELUDE: Partial<Record<ShaderName, string[]>> = { 'dare-mask': ['rng'] };

function bundled(): Record<string, string> | undefined {
  try {
    const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
    const out: Record<string, string> = {};
    for (const [p, src] of Object.entries(files)) out[p.replace(/^.*\//, '').replace(/\.wgsl$/, '')] = src;
    return out;
  } catch {
    return undefined; // not transformed by Vite
  }
}

let cache: Promise<Record<string, string>> | undefined;

async function readAll(): Promise<Record<string, string>> {
  const b = bundled();
  if (b && Object.keys(b).length) return b;
  const fsName = 'node:fs/promises';
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
  const dir = new URL('../../shaders/', import.meta.url);
  const out: Record<string, string> = {};
  for (const f of await fs.readdir(dir)) if (f.endsWith('.wgsl')) out[f.slice(0, -5)] = await fs.readFile(new URL(f, dir), 'utf8');
  return out;
}

/** All shader sources, keyed by kernel name, with preludes applied. */
export async function loadShaders(): Promise<Record<ShaderName, string>> {
  cache ??= readAll();
  const raw = await cache;
  const get = (n: string) => {
    const s = raw[n];
    if (s === undefined) throw new Error(`shaders/${n}.wgsl is missing`);
    return s;
  };
  const names: ShaderName[] = ['dtype', 'delta', 'weighted-sum', 'abs-histogram', 'magnitude-band', 'dare-mask', 'elect-sign', 'disjoint-mean', 'dot', 'aim-scale'];
  return Object.fromEntries(names.map((n) => [n, [...(PRELUDE[n] ?? []).map(get), get(n)].join('\n')])) as Record<ShaderName, string>;
}
