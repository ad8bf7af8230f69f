/**
 * Compute pipelines, cached by kernel name + entry point + override constants (the compile-time
 * facts); per-run data (sizes, weights) goes in uniforms. Bind group layouts are explicit per
 * kernel, so a binding a variant does not read is still part of its layout.
 */
import type { ShaderName } from './shaders';

export type Slot = 'uniform' | 'read' | 'rw';

const R4: Slot[] = ['read', 'read', 'read', 'read'];
export const LAYOUTS: Record<ShaderName, readonly Slot[]> = {
  dtype: ['uniform', 'read', 'rw'],
  delta: ['uniform', 'read', 'read', 'rw'],
  'weighted-sum': ['uniform', ...R4, 'read', 'rw'],
  'abs-histogram': ['uniform', 'read', 'rw'],
  'magnitude-band': ['uniform', 'read', 'rw'],
  'dare-mask': ['uniform', 'read', 'rw'],
  'elect-sign': ['uniform', ...R4, 'rw'],
  'disjoint-mean': ['uniform', ...R4, 'read', 'read', 'rw'],
  dot: ['uniform', 'read', 'read', 'rw'],
  'aim-scale': ['uniform', 'read', 'read', 'read', 'rw'],
};

export class PipelineCache {
  private readonly modules = new Map<ShaderName, GPUShaderModule>();
  private readonly layouts = new Map<ShaderName, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  compiled = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly sources: Record<ShaderName, string>,
  ) {}

  layout(name: ShaderName): GPUBindGroupLayout {
    let l = this.layouts.get(name);
    if (!l) {
      l = this.device.createBindGroupLayout({
        label: `bgl:${name}`,
        entries: LAYOUTS[name].map((slot, binding) => ({
          binding,
          visibility: 4 /* GPUShaderStage.COMPUTE */,
          buffer: { type: slot === 'uniform' ? 'uniform' : slot === 'read' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(name, l);
    }
    return l;
  }

  get(name: ShaderName, entryPoint = 'main', constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${name}:${entryPoint}:${Object.entries(constants)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
    let p = this.pipelines.get(key);
    if (!p) {
      let module = this.modules.get(name);
      if (!module) {
        module = this.device.createShaderModule({ label: `wgsl:${name}`, code: this.sources[name] });
        this.modules.set(name, module);
      }
      p = this.device.createComputePipeline({
        label: `pipeline:${key}`,
        layout: this.device.createPipelineLayout({ label: `layout:${name}`, bindGroupLayouts: [this.layout(name)] }),
        compute: { module, entryPoint, constants },
      });
      this.pipelines.set(key, p);
      this.compiled++;
    }
    return p;
  }
}
