// GPU twin of src/core/dtype.ts: f16/bf16 storage words <-> f32 working tensors (the bit codec
// is shaders/f16-bits.wgsl).
// Pure u32 bit operations (no `shader-f16`, no float conversion builtins), so the result is
// bit-identical to the CPU codec on every adapter, SwiftShader included.
// load16:  src: [ceil(n/2)] u32 words, two 16-bit values each (little-endian)   dst: [n] f32 bits
// store16: src: [n] f32 bits   dst: [ceil(n/2)] u32 words (round-to-nearest-even)
// Items of 4 elements (common.wgsl): one vec2<u32> of 16-bit words <-> one vec4<u32> of f32 bits.
// Lanes past n touch only padding, which is never read back (store16 returns exactly 2n bytes).

override BF16: bool = false;

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
// load16 reads 16-bit words two u32s at a time and writes f32 bits four at a time; store16 the reverse.
@group(0) @binding(1) var<storage, read> src16: array<vec2u>;
@group(0) @binding(2) var<storage, read_write> dst32: array<vec4u>;
@group(0) @binding(1) var<storage, read> src32: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> dst16: array<vec2u>;

fn to_f32_bits(h: u32) -> u32 {
  if (BF16) { return h << 16u; }
  return f16_to_f32_bits(h);
}

fn from_f32_bits(b: u32) -> u32 {
  if (BF16) { return f32_bits_to_bf16(b); }
  return f32_bits_to_f16(b);
}

@compute @workgroup_size(WG_SIZE)
fn load16(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let w = src16[v];
    dst32[v] = vec4u(to_f32_bits(w.x & 0xffffu), to_f32_bits(w.x >> 16u), to_f32_bits(w.y & 0xffffu), to_f32_bits(w.y >> 16u));
  }
}

@compute @workgroup_size(WG_SIZE)
fn store16(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let b = src32[v];
    dst16[v] = vec2u(from_f32_bits(b.x) | (from_f32_bits(b.y) << 16u), from_f32_bits(b.z) | (from_f32_bits(b.w) << 16u));
  }
}
