/**
 * Every kernel description (src/gpu/kernels.ts) against its WGSL source, by parsing the source
 * (no GPU needed): `struct Params` has the described uniform fields in the same order with the same
 * types (so the host's packed bytes land where the shader reads them), each @binding has the
 * described access, the overrides and entry points (with workgroup sizes) agree, and the CPU twin
 * exists. Also: the uniform packing itself, that the checks catch a disagreement, and that every
 * element-wise kernel of src/core/kernels (defineElementwise) names its GPU kernel's bindings.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ElementwiseKernel } from '../../src/core/kernels/elementwise';
import {
  COMMON_WGSL,
  KERNELS,
  KERNEL_NAMES,
  type KernelDescription,
  type KernelName,
  WG_ELEMENTS,
  WG_SIZE,
} from '../../src/gpu/kernels';
import { composeSource, sourceFiles } from '../../src/gpu/shaders';
import { packUniforms, uniformLayout } from '../../src/gpu/uniforms';

const root = new URL('../../', import.meta.url);
const wgsl = (file: string) => readFileSync(new URL(`shaders/${file}.wgsl`, root), 'utf8');
const files = Object.fromEntries(
  readdirSync(new URL('shaders/', root))
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => [f.slice(0, -5), wgsl(f.slice(0, -5))]),
);

const stripComments = (src: string) => src.replace(/\/\/[^\n]*/g, '');

/** Module-scope `const NAME: u32 = 123u;` values. */
function constants(src: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of stripComments(src).matchAll(/const\s+(\w+)\s*:\s*\w+\s*=\s*(\d+)u?\s*;/g)) out[m[1]!] = Number(m[2]);
  return out;
}

/** The interface a WGSL source declares, in the shape of a kernel description. */
function declared(src: string) {
  const code = stripComments(src);
  const params = /struct\s+Params\s*\{([^}]*)\}/.exec(code);
  const uniforms = (params?.[1] ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => f.split(':').map((s) => s.trim()) as [string, string]);
  const bindings: { binding: number; name: string; access: string }[] = [];
  for (const m of code.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var(?:<([^>]*)>)?\s+(\w+)\s*:\s*([^;]+);/g)) {
    const space = (m[2] ?? '').replace(/\s/g, '');
    const access =
      space === 'uniform'
        ? 'uniform'
        : space === 'storage,read'
          ? 'read'
          : space === 'storage,read_write'
            ? 'rw'
            : space;
    bindings.push({ binding: Number(m[1]), name: m[3]!, access });
  }
  const overrides = [...code.matchAll(/override\s+(\w+)\s*:\s*(\w+)/g)].map((m) => [m[1]!, m[2]!] as [string, string]);
  const consts = { ...constants(files[COMMON_WGSL]!), ...constants(src) };
  const entryPoints: Record<string, number[]> = {};
  for (const m of code.matchAll(/@compute\s+@workgroup_size\(([^)]*)\)\s*fn\s+(\w+)/g))
    entryPoints[m[2]!] = m[1]!
      .split(',')
      .map((s) => s.trim())
      .map((s) => consts[s] ?? Number(s.replace(/u$/, '')));
  return { uniforms, bindings, overrides, entryPoints };
}

const fields = (fs: readonly (readonly string[])[]) => fs.map((f) => f.join(': ')).join(', ');

/** Every disagreement between a description and a kernel's own WGSL source (empty: they agree). */
function disagreements(d: KernelDescription, src: string): string[] {
  const got = declared(src);
  const out: string[] = [];
  const want = Object.entries(d.uniforms);
  if (JSON.stringify(got.uniforms) !== JSON.stringify(want))
    out.push(`struct Params { ${fields(got.uniforms)} } ≠ described { ${fields(want)} }`);
  const slots = [['p', 'uniform'], ...Object.entries(d.bindings)] as [string, string][];
  const seen = new Set(got.bindings.map((b) => b.binding));
  if (seen.size !== slots.length || [...seen].some((b) => b >= slots.length))
    out.push(`bindings ${[...seen].sort()} ≠ 0..${slots.length - 1}`);
  for (const b of got.bindings) {
    const [name, access] = slots[b.binding] ?? ['?', '?'];
    // dtype.wgsl declares src16/src32 (and dst32/dst16) at one slot, one per entry point.
    if (!new RegExp(`^${name}(16|32)?$`).test(b.name) || b.access !== access)
      out.push(`@binding(${b.binding}) ${b.name} (${b.access}) ≠ described ${name} (${access})`);
  }
  if (JSON.stringify(got.overrides.sort()) !== JSON.stringify(Object.entries(d.overrides).sort()))
    out.push(`overrides ${JSON.stringify(got.overrides)}`);
  if (JSON.stringify(got.entryPoints) !== JSON.stringify(d.entryPoints))
    out.push(`entry points ${JSON.stringify(got.entryPoints)} ≠ ${JSON.stringify(d.entryPoints)}`);
  return out;
}

describe('kernel descriptions match their WGSL', () => {
  it.each(KERNEL_NAMES)('%s', (name) => {
    const d = KERNELS[name];
    expect(files[name], `shaders/${name}.wgsl`).toBeDefined();
    expect(disagreements(d, files[name]!)).toEqual([]);
    expect(existsSync(new URL(`src/core/${d.cpuTwin}.ts`, root)), `CPU twin src/core/${d.cpuTwin}.ts`).toBe(true);
    for (const f of sourceFiles(name)) expect(files[f], `shaders/${f}.wgsl`).toBeDefined();
    // The composed source starts with the shared preamble.
    expect(composeSource(name, files).startsWith(files[COMMON_WGSL]!)).toBe(true);
  });

  it('common.wgsl agrees with the host on the workgroup size and block', () => {
    expect(constants(files[COMMON_WGSL]!)).toMatchObject({ WG_SIZE, WG_ELEMENTS });
  });

  it('every .wgsl file is a kernel, the preamble, or included by a kernel', () => {
    const used = new Set(KERNEL_NAMES.flatMap((k) => sourceFiles(k)));
    expect(Object.keys(files).filter((f) => !used.has(f))).toEqual([]);
  });

  it('catches a disagreement: swapped, retyped or missing fields, a wrong access, a missing override', () => {
    const src = files['dare-mask']!;
    const d = KERNELS['dare-mask'];
    expect(disagreements(d, src.replace('seed: u32, stream: u32', 'stream: u32, seed: u32'))).toHaveLength(1);
    expect(disagreements(d, src.replace('rescale: u32, scale: f32', 'rescale: u32, scale: u32'))).toHaveLength(1);
    expect(disagreements(d, src.replace(', scale: f32', ''))).toHaveLength(1);
    expect(disagreements(d, src.replace('var<storage, read> x', 'var<storage, read_write> x'))).toHaveLength(1);
    expect(
      disagreements(KERNELS['weighted-sum'], files['weighted-sum']!.replace(/override ACC[^\n]*/, '')),
    ).toHaveLength(1);
    expect(
      disagreements(KERNELS.delta, files.delta!.replace('@workgroup_size(WG_SIZE)', '@workgroup_size(64)')),
    ).toHaveLength(1);
  });
});

describe('uniform bytes', () => {
  it('follow WGSL layout: scalars at 4-byte offsets, vec4 aligned to 16, size padded to 16', () => {
    expect(uniformLayout(KERNELS['weighted-sum'].uniforms)).toEqual({
      fields: [
        { name: 'n', type: 'u32', offset: 0 },
        { name: 'w', type: 'vec4f', offset: 16 },
      ],
      size: 32,
    });
    expect(uniformLayout(KERNELS.delta.uniforms).size).toBe(16);
    expect(uniformLayout(KERNELS.matmul.uniforms).size).toBe(48);
    const b = packUniforms('aim-scale', { n: 7, offset: 3, cols: 5, k: 0.6 });
    expect([...new Uint32Array(b, 0, 3)]).toEqual([7, 3, 5]);
    expect(new Float32Array(b, 12, 1)[0]).toBe(Math.fround(0.6));
    const w = packUniforms('weighted-sum', { n: 9, w: [1.5, -2] });
    expect([...new Float32Array(w, 16, 4)]).toEqual([1.5, -2, 0, 0]);
  });

  it('reject a missing field and a non-integer for an integer field', () => {
    expect(() => packUniforms('delta', {} as { n: number })).toThrow(/uniform 'n' has no value/);
    expect(() => packUniforms('delta', { n: 1.5 })).toThrow(/must be an integer/);
  });
});

/** Every defineElementwise in src/core/kernels, with its module path: found, not listed. */
const twinModules = import.meta.glob<Record<string, unknown>>('../../src/core/kernels/*.ts', { eager: true });
const isElementwise = (v: unknown): v is ElementwiseKernel =>
  typeof v === 'object' && v !== null && 'cpu' in v && 'inputs' in v && 'sides' in v;
const elementwiseKernels = Object.entries(twinModules).flatMap(([path, m]) =>
  Object.values(m)
    .filter(isElementwise)
    .map((k) => [k.name, k, path] as const),
);

describe('element-wise kernels (TensorBackend.elementwise)', () => {
  it('are found', () => {
    expect(elementwiseKernels.map(([name]) => name)).toEqual(expect.arrayContaining(['delta', 'aim-scale']));
  });

  it.each(elementwiseKernels)('%s: a GPU element-wise kernel with bindings inputs, sides, out', (name, k, path) => {
    const d: KernelDescription | undefined = KERNELS[name as KernelName];
    expect(d?.elementsPerWorkgroup, `KERNELS['${name}']`).toBeDefined();
    expect(Object.keys(d!.bindings)).toEqual([...k.inputs, ...k.sides, 'out']);
    expect(path.endsWith(`/src/core/${d!.cpuTwin}.ts`), `${path} is ${d!.cpuTwin}`).toBe(true);
    // Uniforms besides n come from the parameters, per window.
    expect(d!.windowUniforms !== undefined).toBe(Object.keys(d!.uniforms).length > 1);
  });

  it('aim-scale: the column offset follows the window start', () => {
    const u = KERNELS['aim-scale'].windowUniforms!({ omega: 0.4, offset: 5, cols: 13 }, 65536);
    expect(u).toEqual({ offset: (5 + 65536) % 13, cols: 13, k: 1 - 0.4 });
  });
});
