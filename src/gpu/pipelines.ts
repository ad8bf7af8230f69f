/**
 * Compute pipelines, cached by kernel name + entry point + override constants (the compile-time
 * facts); per-run data (sizes, weights) goes in uniforms. Bind group layouts derive from each
 * kernel's description (kernels.ts): the uniform at binding 0, then its storage bindings in order,
 * so a binding a variant does not read is still part of its layout.
 */
import { KERNELS, type KernelName } from './kernels';
import type { ShaderSources } from './shaders';

const COMPUTE = 4; // GPUShaderStage.COMPUTE (the global is missing in Node)

export class PipelineCache {
  private readonly modules = new Map<KernelName, GPUShaderModule>();
  private readonly layouts = new Map<KernelName, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  compiled = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly sources: ShaderSources,
  ) {}

  layout(name: KernelName): GPUBindGroupLayout {
    let l = this.layouts.get(name);
    if (!l) {
      const storage = Object.values(KERNELS[name].bindings).map((access): GPUBufferBindingType =>
        access === 'read' ? 'read-only-storage' : 'storage',
      );
      l = this.device.createBindGroupLayout({
        label: `bgl:${name}`,
        entries: ['uniform' as const, ...storage].map((type, binding) => ({
          binding,
          visibility: COMPUTE,
          buffer: { type },
        })),
      });
      this.layouts.set(name, l);
    }
    return l;
  }

  get(name: KernelName, entryPoint: string, constants: Readonly<Record<string, number>> = {}): GPUComputePipeline {
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
        compute: { module, entryPoint, constants: { ...constants } },
      });
      this.pipelines.set(key, p);
      this.compiled++;
    }
    return p;
  }
}
