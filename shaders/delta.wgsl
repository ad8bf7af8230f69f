// GPU twin of src/core/kernels/delta.ts: the task vector δ = θ_t − θ₀.
// model: [n] f32   base: [n] f32   out: [n] f32
// Layout: each invocation handles vec4s (4 consecutive elements); a workgroup of 256 handles
// ITER = 16 vec4s per invocation, strided so neighbouring lanes touch neighbouring memory:
// 16384 elements per workgroup, workgroup id folded 2-D. Bindings are sized up to a multiple of
// 16 bytes; lanes past n only touch the buffers' padding, which is never read back.

const ITER: u32 = 16u;
struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> model: array<vec4f>;
@group(0) @binding(2) var<storage, read> base: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let first = (wg.y * nwg.x + wg.x) * 256u * ITER;
  for (var k = 0u; k < ITER; k++) {
    let v = first + k * 256u + lid;
    if (v * 4u >= p.n) { break; }
    out[v] = model[v] - base[v];
  }
}
