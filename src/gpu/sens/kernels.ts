/**
 * The kernels of the Sens-Merging backward pass on WebGPU (shaders/sens-*.wgsl), described in the
 * shape of src/gpu/kernels.ts, which spreads them into its table (so the pipeline cache, the
 * uniform packing and test/gpu/kernel-descriptions check them like every other kernel). Their CPU
 * twins are the plain-TS backward pass in src/infer/sens (cpuTwin is relative to src/core).
 * Not defineKernel: importing kernels.ts from here would be an import cycle.
 */

/** The optional fields of a kernel description that these kernels leave out. */
interface Unset {
  readonly elementsPerWorkgroup?: number;
  readonly includes?: readonly string[];
}
const sensKernel = <const K extends object>(k: K): K & Unset => k;

const RW = 'rw' as const;
const R = 'read' as const;

export const SENS_KERNELS = {
  /** Fused Σ|W⊙(dYᵀX)| of a linear weight, tile by tile; raw gradient probes; whole rows (tied head). */
  'sens-weight': sensKernel({
    entryPoints: { main: [8, 8], main_registers: [256], probe: [64], rows: [64] },
    uniforms: {
      rows: 'u32',
      inDim: 'u32',
      dyStride: 'u32',
      rowBase: 'u32',
      outCount: 'u32',
      slot: 'u32',
      useMask: 'u32',
      maskBase: 'u32',
      probeCount: 'u32',
      probeSlot: 'u32',
    },
    bindings: { dy: R, x: R, w: R, mask: R, idx: R, results: RW, out: RW },
    overrides: {},
    cpuTwin: '../infer/sens/ops',
  }),
  /** X·Wᵀ and dY·W in 8×8 register blocks (CPU adapters; real GPUs use matmul.wgsl). */
  'sens-linear': sensKernel({
    entryPoints: { forward: [64], input_grad: [64] },
    uniforms: { rows: 'u32', inDim: 'u32', outDim: 'u32', residual: 'u32' },
    bindings: { x: R, w: R, res: R, out: RW },
    overrides: {},
    cpuTwin: '../infer/sens/ops',
  }),
  /** RMSNorm forward and input gradient (with the residual add), a workgroup per row. */
  'sens-norm': sensKernel({
    entryPoints: { forward: [64], backward: [64] },
    uniforms: { rows: 'u32', dim: 'u32', eps: 'f32', residual: 'u32' },
    bindings: { x: R, w: R, dy: R, res: R, inv: RW, out: RW },
    overrides: {},
    cpuTwin: '../infer/sens/ops',
  }),
  /** Norm-weight and bias gradients (column sums), the used embedding rows' gradients, and the fold into Σ|θ⊙g|. */
  'sens-vector': sensKernel({
    entryPoints: { column: [64], embed: [64], fold: [256] },
    uniforms: {
      rows: 'u32',
      width: 'u32',
      mode: 'u32',
      n: 'u32',
      slot: 'u32',
      probeCount: 'u32',
      probeSlot: 'u32',
    },
    bindings: { a: R, b: R, scale: R, theta: R, idx: R, g: RW, results: RW },
    overrides: {},
    cpuTwin: '../infer/sens/ops',
  }),
  /** Causal GQA attention: forward (with log-sum-exp), dq, and dk/dv per key row (no atomics). */
  'sens-attention': sensKernel({
    entryPoints: { forward: [64], backward_dq: [64], backward_dkv: [64] },
    uniforms: { rows: 'u32', heads: 'u32', kvHeads: 'u32', headDim: 'u32', scale: 'f32' },
    bindings: { q: R, k: R, v: R, dout: R, o: RW, stats: RW, dq: RW, dkv: RW },
    overrides: {},
    cpuTwin: '../infer/sens/ops',
  }),
  /** Rotary (and its inverse), SwiGLU forward/backward, bias add, row gather/scatter. */
  'sens-rows': sensKernel({
    entryPoints: {
      rope: [256],
      swiglu_forward: [256],
      swiglu_backward: [256],
      bias_add: [256],
      gather_rows: [256],
      scatter_rows: [256],
    },
    uniforms: { n: 'u32', width: 'u32', heads: 'u32', half: 'u32', sign: 'f32' },
    bindings: { a: R, b: R, c: R, idx: R, out: RW, out2: RW },
    overrides: {},
    cpuTwin: '../infer/sens/ops',
  }),
  /** Streamed log-sum-exp over head chunks, and dL/dz = (softmax − onehot)/rows. */
  'sens-head': sensKernel({
    entryPoints: { lse_update: [64], lse_final: [64], dlogits: [256] },
    uniforms: { rows: 'u32', width: 'u32', first: 'u32', scale: 'f32' },
    bindings: { labels: R, z: RW, stats: RW },
    overrides: {},
    cpuTwin: '../infer/sens/head',
  }),
};
