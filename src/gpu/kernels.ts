/**
 * Every GPU kernel, described once. A description names the kernel's entry points (with their
 * workgroup sizes), its uniforms (the fields of its WGSL `struct Params`, in order, at binding 0),
 * its storage bindings (1, 2, … in order), its override constants, any other .wgsl it includes and
 * its CPU twin. From this table come the kernel list, the bind group layouts (pipelines.ts), the
 * composed sources (shaders.ts) and the uniform bytes (uniforms.ts); test/gpu/kernel-descriptions
 * checks every entry against its .wgsl file.
 *
 * A kernel `name` lives in shaders/<name>.wgsl, after shaders/common.wgsl (the lane helpers).
 * Adding an element-wise kernel takes three things, and no backend method:
 *   1. shaders/<name>.wgsl: `struct Params` starting with `n: u32`, the inputs, any sides, and `out`;
 *   2. one entry here (with `windowUniforms` when `struct Params` has more than `n`);
 *   3. its CPU twin in src/core/kernels/<name>.ts, with the `defineElementwise` that names the kernel,
 *      its inputs and sides (the binding names) and its typed parameters.
 * Merge code then calls `backend.elementwise(KERNEL, [inputs…, sides…], params)` on either backend.
 */
import type { AbsDigitsParams } from '../core/kernels/abs-digits';
import type { AimScaleParams } from '../core/kernels/aim-scale';
import type { BernoulliMaskParams } from '../core/kernels/bernoulli-mask';
import type { DareMaskParams } from '../core/kernels/dare-mask';
import { type MagnitudeBandParams, tieBound } from '../core/kernels/magnitude-band';
import type { NearswapParams } from '../core/kernels/nearswap';
import type { RamAccumulateParams } from '../core/kernels/ram';
import { daresKeepThreshold } from '../core/kernels/rng';
import { SENS_KERNELS } from './sens/kernels';

/** Uniform field types (their WGSL sizes and alignments are in uniforms.ts). */
export type UniformType = 'u32' | 'i32' | 'f32' | 'vec4f';
/** Storage binding access: `var<storage, read>` or `var<storage, read_write>`. */
export type Access = 'read' | 'rw';
export type OverrideType = 'u32' | 'bool';

type Fields = Readonly<Record<string, UniformType>>;
type Bindings = Readonly<Record<string, Access>>;
type Overrides = Readonly<Record<string, OverrideType>>;
type EntryPoints = Readonly<Record<string, readonly number[]>>;

export interface KernelDescription<
  U extends Fields = Fields,
  B extends Bindings = Bindings,
  O extends Overrides = Overrides,
  E extends EntryPoints = EntryPoints,
  P = never,
> {
  /** Entry point → @workgroup_size. */
  readonly entryPoints: E;
  readonly uniforms: U;
  readonly bindings: B;
  readonly overrides: O;
  /** Elements one workgroup covers, for element-wise kernels (dispatch size = ⌈n / this⌉). */
  readonly elementsPerWorkgroup?: number;
  /** Other shaders/*.wgsl files put before this kernel's own (after common.wgsl). */
  readonly includes?: readonly string[];
  /** The CPU reference, src/core/<cpuTwin>.ts. */
  readonly cpuTwin: string;
  /**
   * For kernels run by TensorBackend.elementwise: the uniforms besides `n` for the window starting
   * at element `start`, from the kernel's typed parameters (those of its defineElementwise).
   */
  readonly windowUniforms?: (params: P, start: number) => Omit<UniformValues<U>, 'n'>;
}

/** The uniform values a kernel takes: numbers, four numbers for a vec4. */
export type UniformValues<U extends Fields> = {
  readonly [F in keyof U]: U[F] extends 'vec4f' ? readonly number[] : number;
};
/** Override constants (all optional: the WGSL declares defaults). */
export type OverrideValues<O extends Overrides> = { readonly [C in keyof O]?: O[C] extends 'bool' ? boolean : number };

const defineKernel = <
  const U extends Fields,
  const B extends Bindings,
  const O extends Overrides,
  const E extends EntryPoints,
  P = never,
>(
  d: KernelDescription<U, B, O, E, P>,
) => d;

/** Workgroup size and block of every element-wise kernel (WG_SIZE, WG_ELEMENTS in common.wgsl). */
export const WG_SIZE = 256;
export const WG_ELEMENTS = 16384;
const ELEMENTWISE = { entryPoints: { main: [WG_SIZE] }, elementsPerWorkgroup: WG_ELEMENTS } as const;
const FOUR_INPUTS = { x0: 'read', x1: 'read', x2: 'read', x3: 'read' } as const;

/** Elements per partial sum of the dot kernel. */
export const DOT_BLOCK = 256;
/** Elements one workgroup of the 4-bit packer covers (WG_SIZE blocks of the largest size, 128). */
export const Q4_SPAN = WG_SIZE * 128;

export const KERNELS = {
  dtype: defineKernel({
    ...ELEMENTWISE,
    entryPoints: { load16: [WG_SIZE], store16: [WG_SIZE] },
    uniforms: { n: 'u32' },
    bindings: { src: 'read', dst: 'rw' },
    overrides: { BF16: 'bool' },
    includes: ['f16-bits'],
    cpuTwin: 'dtype',
  }),
  delta: defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32' },
    bindings: { model: 'read', base: 'read', out: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/delta',
  }),
  'weighted-sum': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32', w: 'vec4f' },
    bindings: { ...FOUR_INPUTS, acc: 'read', out: 'rw' },
    overrides: { K: 'u32', ACC: 'bool' },
    cpuTwin: 'kernels/weighted-sum',
  }),
  /** weighted-sum over 16-bit storage words (`main`: f32 out; `main16`: 16-bit words out), driven by fused.ts. */
  'weighted-sum16': defineKernel({
    ...ELEMENTWISE,
    entryPoints: { main: [WG_SIZE], main16: [WG_SIZE] },
    uniforms: { n: 'u32', w: 'vec4f' },
    bindings: { ...FOUR_INPUTS, out: 'rw' },
    overrides: { K: 'u32', BF16_IN: 'u32', F32_IN: 'u32', BF16_OUT: 'bool' },
    includes: ['f16-bits'],
    cpuTwin: 'kernels/weighted-sum',
  }),
  /** `main`: per-workgroup histograms in workgroup memory; `main_global`: atomics straight into `counts` (SwiftShader). */
  'abs-histogram': defineKernel({
    ...ELEMENTWISE,
    entryPoints: { main: [WG_SIZE], main_global: [WG_SIZE] },
    uniforms: { n: 'u32', prefix: 'u32', prefixShift: 'u32', shift: 'u32', mask: 'u32' },
    bindings: { x: 'read', counts: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/abs-histogram',
  }),
  'magnitude-band': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32', lo: 'f32', hi: 'f32', loEnd: 'u32', hiEnd: 'u32', offset: 'u32' },
    bindings: { x: 'read', out: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/magnitude-band',
    // Element i of the window is tensor element offset + start + i (mod 2^32).
    windowUniforms: (p: MagnitudeBandParams, start) => ({
      lo: p.lo,
      hi: p.hi,
      loEnd: tieBound(p.loEnd),
      hiEnd: tieBound(p.hiEnd),
      offset: ((p.offset ?? 0) + start) >>> 0,
    }),
  }),
  'abs-digits': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32', low: 'i32' },
    bindings: { x: 'read', out: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/abs-digits',
    windowUniforms: (p: AbsDigitsParams) => ({ low: p.low }),
  }),
  'dare-mask': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32', seed: 'u32', stream: 'u32', offset: 'u32', keep: 'u32', rescale: 'u32', scale: 'f32' },
    bindings: { x: 'read', out: 'rw' },
    overrides: {},
    includes: ['rng'],
    cpuTwin: 'kernels/dare-mask',
    // The hash counter of element i of the window is offset + start + i (mod 2^32).
    windowUniforms: (p: DareMaskParams, start) => ({
      seed: p.seed >>> 0,
      stream: p.stream >>> 0,
      offset: (p.offset + start) >>> 0,
      keep: daresKeepThreshold(p.density),
      rescale: p.rescale ? 1 : 0,
      scale: p.density,
    }),
  }),
  'bernoulli-mask': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32', seed: 'u32', stream: 'u32', offset: 'u32' },
    bindings: { x: 'read', keep: 'read', out: 'rw' },
    overrides: {},
    includes: ['rng'],
    cpuTwin: 'kernels/bernoulli-mask',
    // The hash counter of element i of the window is offset + start + i (mod 2^32).
    windowUniforms: (p: BernoulliMaskParams, start) => ({
      seed: p.seed >>> 0,
      stream: p.stream >>> 0,
      offset: (p.offset + start) >>> 0,
    }),
  }),
  'squared-deviation': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32' },
    bindings: { x: 'read', mean: 'read', acc: 'read', out: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/squared-deviation',
  }),
  'keep-where': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32' },
    bindings: { x: 'read', key: 'read', out: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/keep-where',
  }),
  nearswap: defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32', t: 'f32' },
    bindings: { base: 'read', other: 'read', out: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/nearswap',
    windowUniforms: (p: NearswapParams) => ({ t: p.t }),
  }),
  'ram-accumulate': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32', epsilon: 'f32', w: 'f32', count: 'u32' },
    bindings: { x: 'read', acc: 'read', out: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/ram',
    windowUniforms: (p: RamAccumulateParams) => ({ epsilon: p.epsilon, w: p.w, count: p.count ? 1 : 0 }),
  }),
  'ram-final': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32' },
    bindings: { sum: 'read', weighted: 'read', count: 'read', out: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/ram',
  }),
  'elect-sign': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32' },
    bindings: { ...FOUR_INPUTS, out: 'rw' },
    overrides: { K: 'u32' },
    cpuTwin: 'kernels/elect-sign',
  }),
  'disjoint-mean': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32', w: 'vec4f' },
    bindings: { ...FOUR_INPUTS, sgn: 'read', state: 'read', out: 'rw' },
    overrides: { K: 'u32', ACC: 'bool', FINAL: 'bool', NORMALIZE: 'bool' },
    cpuTwin: 'kernels/disjoint-mean',
  }),
  dot: defineKernel({
    entryPoints: { main: [WG_SIZE] },
    elementsPerWorkgroup: WG_SIZE * DOT_BLOCK,
    uniforms: { n: 'u32' },
    bindings: { a: 'read', b: 'read', partial: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/dot',
  }),
  'aim-scale': defineKernel({
    ...ELEMENTWISE,
    uniforms: { n: 'u32', offset: 'u32', cols: 'u32', k: 'f32' },
    bindings: { base: 'read', merged: 'read', scale: 'read', out: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/aim-scale',
    // The column of element i of the window is (offset + start + i) mod cols.
    windowUniforms: (p: AimScaleParams, start) => ({
      offset: (p.offset + start) % p.cols,
      cols: p.cols,
      k: 1 - p.omega,
    }),
  }),
  /** MatMulNBits' 4-bit blocks (driven by quantize.ts): BLOCK elements per invocation, SOURCE 0/1/2 = f32/f16/bf16. */
  'q4-pack': defineKernel({
    entryPoints: { main: [WG_SIZE] },
    elementsPerWorkgroup: Q4_SPAN,
    uniforms: { n: 'u32' },
    bindings: { src: 'read', packed: 'rw', scales: 'rw' },
    overrides: { BLOCK: 'u32', SOURCE: 'u32' },
    includes: ['f16-bits'],
    cpuTwin: 'kernels/q4-pack',
  }),
  /** Tiled matmul for the SVD merges (driven by linalg.ts): `main` for GPUs, `main_registers` for CPU adapters. */
  matmul: defineKernel({
    entryPoints: { main: [16, 16], main_registers: [8, 8] },
    uniforms: {
      M: 'u32',
      N: 'u32',
      K: 'u32',
      lda: 'u32',
      ldb: 'u32',
      ldc: 'u32',
      aOff: 'u32',
      bOff: 'u32',
      cOff: 'u32',
      c0Off: 'u32',
      flags: 'u32',
      acc: 'u32',
    },
    bindings: { a: 'read', b: 'read', c0: 'read', c: 'rw' },
    overrides: {},
    cpuTwin: 'kernels/matmul',
  }),
  /** The Sens-Merging backward pass (src/infer/sens/gpu). */
  ...SENS_KERNELS,
};

export type KernelName = keyof typeof KERNELS;
export type Kernel<K extends KernelName> = (typeof KERNELS)[K];
export const KERNEL_NAMES = Object.keys(KERNELS) as KernelName[];

/** The file every kernel's source starts with. */
export const COMMON_WGSL = 'common';

export type EntryPoint<K extends KernelName> = keyof Kernel<K>['entryPoints'] & string;
export type BindingName<K extends KernelName> = keyof Kernel<K>['bindings'] & string;
export type KernelUniforms<K extends KernelName> = UniformValues<Kernel<K>['uniforms']>;
export type KernelOverrides<K extends KernelName> = OverrideValues<Kernel<K>['overrides']>;
