// Bit-exact f16/bf16 <-> f32 codec on u32 words, the twin of src/core/dtype.ts: pure bit
// operations (no `shader-f16`, no float conversion builtins), so every adapter, SwiftShader
// included, gives the CPU's bits. Included by dtype.wgsl and q4-pack.wgsl.

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
