// GPU twin of src/core/kernels/dare-mask.ts (rng.wgsl is included: src/gpu/kernels.ts).
// DARE keeps element `offset + i` when (randomU32(seed, stream, offset + i) >> 8) < keep and
// rescales kept ones by 1/density. The mask depends only on (seed, stream, global index), so it is
// identical whatever the chunking or backend.
// x: [n] f32   out: [n] f32   keep: density quantised to 2^-24   scale: f32(density)
// vec4 items (common.wgsl).

struct Params { n: u32, seed: u32, stream: u32, offset: u32, keep: u32, rescale: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  let keys = rng_keys(p.seed, p.stream);
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let i = p.offset + 4u * v;
    let r = vec4u(random_u32(keys, i), random_u32(keys, i + 1u), random_u32(keys, i + 2u), random_u32(keys, i + 3u));
    var val = x[v];
    if (p.rescale != 0u) { val = val / p.scale; }
    out[v] = select(vec4f(0.0), val, (r >> vec4u(8u)) < vec4u(p.keep));
  }
}
