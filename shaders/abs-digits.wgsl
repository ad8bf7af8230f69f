// GPU twin of src/core/kernels/abs-digits.ts: one 16-bit digit of |x| in fixed point,
// out = floor(|x| / 2^low) mod 2^16 (an exact integer in f32), for exact, order-free L1 norms.
// |x| = M · 2^(max(E, 1) − 150) from the f32 bits (E: exponent field, M: 24-bit mantissa); NaN → 0.
// x: [n] f32 bits   out: [n] f32   low: the digit's lowest bit position (i32)   vec4 items (common.wgsl)

struct Params { n: u32, low: i32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

fn digit(b: u32) -> f32 {
  let a = b & 0x7fffffffu;
  if (a > 0x7f800000u) { return 0.0; }
  let e = a >> 23u;
  let m = (a & 0x7fffffu) | select(0u, 0x800000u, e > 0u);
  let sh = i32(max(e, 1u)) - 150 - p.low;
  if (sh >= 32 || sh <= -32) { return 0.0; }
  if (sh >= 0) { return f32((m << u32(sh)) & 0xffffu); }
  return f32((m >> u32(-sh)) & 0xffffu);
}

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let b = x[v];
    out[v] = vec4f(digit(b.x), digit(b.y), digit(b.z), digit(b.w));
  }
}
