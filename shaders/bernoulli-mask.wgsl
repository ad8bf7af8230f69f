// GPU twin of src/core/kernels/bernoulli-mask.ts (rng.wgsl is included: src/gpu/kernels.ts).
// Keeps element `offset + i` when (randomU32(seed, stream, offset + i) >> 8) < keep[i]: DARE's
// draws with a probability per element (DELLA), keep[i] in units of 2^-24 (an integer in f32).
// x: [n] f32   keep: [n] f32   out: [n] f32   vec4 items (common.wgsl).

struct Params { n: u32, seed: u32, stream: u32, offset: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> keep: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  let keys = rng_keys(p.seed, p.stream);
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let i = p.offset + 4u * v;
    let r = vec4u(random_u32(keys, i), random_u32(keys, i + 1u), random_u32(keys, i + 2u), random_u32(keys, i + 3u));
    out[v] = select(vec4f(0.0), x[v], (r >> vec4u(8u)) < vec4u(keep[v]));
  }
}
