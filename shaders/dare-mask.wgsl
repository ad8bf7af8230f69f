// GPU twin of src/core/kernels/dare-mask.ts (prepended with rng.wgsl by src/gpu/shaders.ts).
// DARE keeps element `offset + i` when (randomU32(seed, stream, offset + i) >> 8) < keep and
// rescales kept ones by 1/density. The mask depends only on (seed, stream, global index), so it is
// identical whatever the chunking or backend.
// x: [n] f32   out: [n] f32   keep: density quantised to 2^-24   scale: f32(density)

struct Params { n: u32, seed: u32, stream: u32, offset: u32, keep: u32, rescale: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let keys = rng_keys(p.seed, p.stream);
  var v = 0.0;
  if ((random_u32(keys, p.offset + i) >> 8u) < p.keep) {
    v = x[i];
    if (p.rescale != 0u) { v = v / p.scale; }
  }
  out[i] = v;
}
