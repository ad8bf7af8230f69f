// GPU twin of src/core/dtype.ts: f16/bf16 storage words <-> f32 working tensors.
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

fn f16_to_f32_bits(h: u32) -> u32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) {
    if (m == 0u) { return s; }
    // subnormal half: m * 2^-24 = 1.f * 2^(msb - 24)
    let msb = firstLeadingBit(m);
    return s | ((msb + 103u) << 23u) | ((m << (23u - msb)) & 0x7fffffu);
  }
  if (e == 31u) {
    if (m == 0u) { return s | 0x7f800000u; }
    return 0x7fc00000u; // the CPU twin yields JavaScript's NaN
  }
  return s | ((e + 112u) << 23u) | (m << 13u);
}

fn f32_bits_to_f16(b: u32) -> u32 {
  let sign = (b >> 16u) & 0x8000u;
  let exp = (b >> 23u) & 0xffu;
  var mant = b & 0x7fffffu;
  if (exp == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  let e = i32(exp) - 112;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    mant = mant | 0x800000u;
    let shift = u32(14 - e);
    let half = 1u << (shift - 1u);
    let rest = mant & ((1u << shift) - 1u);
    var h = mant >> shift;
    if (rest > half || (rest == half && (h & 1u) == 1u)) { h = h + 1u; }
    return sign | h;
  }
  var h = (u32(e) << 10u) | (mant >> 13u);
  let rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) == 1u)) { h = h + 1u; } // may carry into the exponent: correct
  return sign | h;
}

fn f32_bits_to_bf16(b: u32) -> u32 {
  if ((b & 0x7fffffffu) > 0x7f800000u) { return ((b >> 16u) | 0x40u) & 0xffffu; } // quiet NaN
  let rounding = 0x7fffu + ((b >> 16u) & 1u);
  return ((b + rounding) >> 16u) & 0xffffu;
}

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
