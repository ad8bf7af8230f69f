// GPU twin of src/core/kernels/keep-where.ts: x where key ≠ 0, else 0 (kept values bit for bit).
// The key is tested on its bits (±0 drop; NaNs and subnormals keep, which float compares on a
// flushing GPU would not).
// x: [n] f32 bits   key: [n] f32 bits   out: [n] f32 bits      vec4 items (common.wgsl)

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4u>;
@group(0) @binding(2) var<storage, read> key: array<vec4u>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4u>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    out[v] = select(vec4u(0u), x[v], (key[v] & vec4u(0x7fffffffu)) != vec4u(0u));
  }
}
