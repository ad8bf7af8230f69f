/**
 * The GPU's own bandwidth, measured in the same run as the merges: a WGSL kernel that copies one
 * storage buffer into another (GB/s counted as bytes read + written, as the merge rows count theirs),
 * and the host links a streamed merge crosses: upload with `writeBuffer` and read-back through a
 * mapped buffer. Each figure is the best of several timed repetitions after a warm-up.
 */
import { requestGpuDevice } from '../../src/gpu/device';
import { nodeGpu } from '../../src/node/webgpu-env';
import { saveResult } from './common';

const COPY_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<u32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i < arrayLength(&src)) { dst[i] = src[i]; }
}`;

export interface BandwidthResult {
  bufferMiB: number;
  copyGBs: number;
  uploadGBs: number;
  readbackGBs: number;
}

async function bestSeconds(reps: number, once: () => Promise<void>): Promise<number> {
  await once(); // warm-up: pipeline creation, first touch of the memory
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await once();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

export async function bandwidthStep(opts: { mib: number; reps: number }): Promise<void> {
  const { device, adapter } = await requestGpuDevice(await nodeGpu());
  const limit = Math.min(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize);
  const bytes = Math.floor(Math.min(opts.mib * 2 ** 20, limit) / 4096) * 4096;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const src = device.createBuffer({ size: bytes, usage });
  const dst = device.createBuffer({ size: bytes, usage });
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: COPY_WGSL }), entryPoint: 'main' },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: src } },
      { binding: 1, resource: { buffer: dst } },
    ],
  });
  const groups = Math.ceil(bytes / 16 / 256);
  const perRow = Math.min(groups, adapter.limits.maxComputeWorkgroupsPerDimension);
  const passes = 8;
  const copySeconds = await bestSeconds(opts.reps, async () => {
    const enc = device.createCommandEncoder();
    for (let p = 0; p < passes; p++) {
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(perRow, Math.ceil(groups / perRow));
      pass.end();
    }
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  });
  const host = new Uint8Array(bytes).fill(7);
  const uploadSeconds = await bestSeconds(opts.reps, async () => {
    device.queue.writeBuffer(src, 0, host);
    await device.queue.onSubmittedWorkDone();
  });
  const readbackSeconds = await bestSeconds(opts.reps, async () => {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(dst, 0, staging, 0, bytes);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    host.set(new Uint8Array(staging.getMappedRange()));
    staging.unmap();
  });
  for (const b of [src, dst, staging]) b.destroy();
  device.destroy();
  saveResult('bandwidth', {
    bufferMiB: bytes / 2 ** 20,
    copyGBs: (2 * bytes * passes) / 1e9 / copySeconds,
    uploadGBs: bytes / 1e9 / uploadSeconds,
    readbackGBs: bytes / 1e9 / readbackSeconds,
  } satisfies BandwidthResult);
}
