/**
 * An element-wise kernel as the merge engine sees it: its name (the GPU kernel: shaders/<name>.wgsl
 * and its entry in src/gpu/kernels.ts), its operands and its CPU twin. TensorBackend.elementwise
 * runs any such kernel, so a new one needs no backend method: each twin file defines its kernel
 * next to the twin (e.g. DELTA in delta.ts).
 *
 * Operands, in order: the `inputs` (one element each per output element; the GPU windows them with
 * the output), then the `sides` (bound whole, e.g. AIM's per-column scale). Their names are the
 * kernel's storage bindings; the output is its `out` binding. `P` is the kernel's typed parameters.
 */

type Names = readonly string[];

/** One `T` per operand: the inputs, then the sides. */
export type Operands<I extends Names, S extends Names, T> = readonly [
  ...{ readonly [i in keyof I]: T },
  ...{ readonly [i in keyof S]: T },
];

export interface ElementwiseKernel<P = unknown, I extends Names = Names, S extends Names = Names> {
  /** The GPU kernel (src/gpu/kernels.ts) this runs as. */
  readonly name: string;
  readonly inputs: I;
  readonly sides: S;
  /** The CPU twin, on the operands in order. */
  readonly cpu: (operands: Operands<I, S, Float32Array>, params: P) => Float32Array;
  /** The length each side must have (the GPU backend checks it; a side is bound whole). */
  readonly sideLengths?: (params: P) => { readonly [i in keyof S]: number };
}

/** A kernel with no sides unless given; `P` (the parameters) defaults to none. */
export const defineElementwise = <P = Record<string, never>, const I extends Names = Names, const S extends Names = []>(
  k: Omit<ElementwiseKernel<P, I, S>, 'sides'> & { readonly sides?: S },
): ElementwiseKernel<P, I, S> => ({ ...k, sides: k.sides ?? ([] as unknown as S) });
