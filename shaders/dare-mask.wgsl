// GPU twin of src/core/kernels/dare-mask.ts (prepended with rng.wgsl by src/gpu/shaders.ts).
// DARE keeps element `offset + i` when (randomU32(seed, stream, offset + i) >> 8) < keep and
// rescales kept ones by 1/density. The mask depends only on (seed, stream, global index), so it is
// identical whatever the chunking or backend.
// x: [n] f32   out: [n] f32   keep: density quantised to 2^-24   scale: f32(density)
// Layout: each invocation handles vec4s (4 consecutive elements); a workgroup of 256 handles
// ITER = 16 vec4s per invocation, strided so neighbouring lanes touch neighbouring memory:
// 16384 elements per workgroup, workgroup id folded 2-D. Bindings are sized up to a multiple of
// 16 bytes; lanes past n only touch the buffers' padding, which is never read back.

const ITER: u32 = 16u;
struct Params { n: u32, seed: u32, stream: u32, offset: u32, keep: u32, rescale: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let keys = rng_keys(p.seed, p.stream);
  let first = (wg.y * nwg.x + wg.x) * 256u * ITER;
  for (var k = 0u; k < ITER; k++) {
    let v = first + k * 256u + lid;
    if (v * 4u >= p.n) { break; }
    let i = p.offset + 4u * v;
    let r = vec4u(random_u32(keys, i), random_u32(keys, i + 1u), random_u32(keys, i + 2u), random_u32(keys, i + 3u));
    var val = x[v];
    if (p.rescale != 0u) { val = val / p.scale; }
    out[v] = select(vec4f(0.0), val, (r >> vec4u(8u)) < vec4u(p.keep));
  }
}
