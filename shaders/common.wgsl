// The preamble of every kernel: src/gpu/shaders.ts puts this file before each kernel's own source
// (WGSL has no includes). Kernel files use these names without declaring them.
//
// Element-wise kernels: a workgroup of WG_SIZE invocations covers a block of WG_ELEMENTS
// consecutive elements, as items of `width` elements (4: vec4 kernels; 1: scalar kernels).
// Invocation `lid` handles items first_item(lane, width), + WG_SIZE, + 2·WG_SIZE, … (neighbouring
// lanes touch neighbouring memory) while they are below end_item(lane, n, width): the end of the
// block or of the n elements, whichever comes first. The host folds dispatches past
// maxComputeWorkgroupsPerDimension into a 2-D grid; workgroup_index unfolds it. Bindings are sized
// up to a multiple of 16 bytes, so the last vec4 may reach past n into padding never read back.

const WG_SIZE: u32 = 256u;
const WG_ELEMENTS: u32 = 16384u;

// The builtins of an element-wise entry point.
struct Lane {
  @builtin(workgroup_id) wg: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
}

fn workgroup_index(lane: Lane) -> u32 {
  return lane.wg.y * lane.nwg.x + lane.wg.x;
}

fn first_item(lane: Lane, width: u32) -> u32 {
  return workgroup_index(lane) * (WG_ELEMENTS / width) + lane.lid;
}

fn end_item(lane: Lane, n: u32, width: u32) -> u32 {
  return min((workgroup_index(lane) + 1u) * (WG_ELEMENTS / width), (n + width - 1u) / width);
}
