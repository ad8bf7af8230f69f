/**
 * Uniform bytes from a kernel's description: each field of `struct Params` at its WGSL offset
 * (uniform address space: scalars align to 4, vec4 to 16), the struct padded to 16 bytes.
 * Callers pass named values (`{ n, lo, hi }`), never byte offsets.
 */
import { GpuError } from './device';
import { KERNELS, type KernelName, type KernelUniforms, type UniformType } from './kernels';

const SIZE: Record<UniformType, number> = { u32: 4, i32: 4, f32: 4, vec4f: 16 };

export interface UniformField {
  readonly name: string;
  readonly type: UniformType;
  readonly offset: number;
}

export interface UniformLayout {
  readonly fields: readonly UniformField[];
  /** Bytes of the uniform buffer: the struct size rounded up to 16. */
  readonly size: number;
}

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

/** Offsets of `fields` (in declaration order) under WGSL's layout rules (size = alignment for these types). */
export function uniformLayout(fields: Readonly<Record<string, UniformType>>): UniformLayout {
  let end = 0;
  const out = Object.entries(fields).map(([name, type]) => {
    const offset = roundUp(end, SIZE[type]);
    end = offset + SIZE[type];
    return { name, type, offset };
  });
  return { fields: out, size: roundUp(Math.max(end, 16), 16) };
}

const layouts = new Map<KernelName, UniformLayout>();

export function kernelUniformLayout(kernel: KernelName): UniformLayout {
  let l = layouts.get(kernel);
  if (!l) layouts.set(kernel, (l = uniformLayout(KERNELS[kernel].uniforms)));
  return l;
}

/** The uniform buffer contents for `kernel` (little-endian, as WebGPU reads them). */
export function packUniforms<K extends KernelName>(kernel: K, values: KernelUniforms<K>): ArrayBuffer {
  const layout = kernelUniformLayout(kernel);
  const bytes = new ArrayBuffer(layout.size);
  const view = new DataView(bytes);
  const given = values as Readonly<Record<string, number | readonly number[]>>;
  for (const { name, type, offset } of layout.fields) {
    const v = given[name];
    if (v === undefined) throw new GpuError(`${kernel}: uniform '${name}' has no value`);
    if (type === 'vec4f') {
      if (typeof v === 'number' || v.length > 4)
        throw new GpuError(`${kernel}: uniform '${name}' takes up to 4 numbers`);
      v.forEach((x, i) => view.setFloat32(offset + 4 * i, x, true));
    } else if (typeof v !== 'number') {
      throw new GpuError(`${kernel}: uniform '${name}' takes one number`);
    } else if (type === 'f32') {
      view.setFloat32(offset, v, true);
    } else {
      if (!Number.isInteger(v))
        throw new GpuError(`${kernel}: uniform '${name}' (${type}) must be an integer, got ${v}`);
      if (type === 'u32') view.setUint32(offset, v, true);
      else view.setInt32(offset, v, true);
    }
  }
  return bytes;
}
