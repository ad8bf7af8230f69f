// GPU twin of src/core/kernels/q4-pack.ts (packQ4): 4-bit blocks for onnxruntime's MatMulNBits,
// bit for bit. Per block of BLOCK elements along K: m = the first element of largest magnitude,
// scale = m / −8 (+0 for an all-zero block), code = clamp(round_half_even(−8w/m) + 8, 0, 15).
// No float arithmetic at all: WGSL's f32 division is only accurate to 2.5 ULP, which would move
// codes near .5 ties, so every step works on the f32 bit patterns with exact integer operations.
// src: [n] f32 bits (SOURCE 0), or n 16-bit values two per u32 word (1: f16, 2: bf16)
// packed: [n/8] u32 words = [n/2] bytes, low nibble = even element   scales: [n/BLOCK] f32 bits
// A workgroup covers SPAN consecutive elements; invocation lid packs blocks lid, lid + WG_SIZE, …
// of it (workgroup id unfolded by common.wgsl). n is a multiple of BLOCK.

override BLOCK: u32 = 32u; // 32, 64 or 128
override SOURCE: u32 = 0u;

const SPAN: u32 = 32768u; // WG_SIZE × the largest block

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> packed: array<u32>;
@group(0) @binding(3) var<storage, read_write> scales: array<u32>;

const SIGN: u32 = 0x80000000u;
const ABS: u32 = 0x7fffffffu;
const INF: u32 = 0x7f800000u;

fn element_bits(i: u32) -> u32 {
  if (SOURCE == 0u) { return src[i]; }
  let h = (src[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu;
  if (SOURCE == 2u) { return h << 16u; }
  return f16_to_f32_bits(h); // shaders/f16-bits.wgsl
}

// The integer significand of |x| (implicit bit included; subnormals have none) and its exponent
// (subnormals: 1), so |x| = significand · 2^(exponent − 150).
fn significand(a: u32) -> u32 {
  return select(a, (a & 0x7fffffu) | 0x800000u, (a >> 23u) != 0u);
}
fn exponent(a: u32) -> i32 {
  return i32(max(a >> 23u, 1u));
}

// Round num/den half to even (2·rem < 2^32: den < 2^31).
fn div_round_half_even(num: u32, den: u32) -> u32 {
  let q = num / den;
  let twice = 2u * (num - q * den);
  return q + select(0u, 1u, twice > den || (twice == den && (q & 1u) == 1u));
}

// The f32 bits of m / −8, rounded to nearest even like the CPU's f32 store (exact unless subnormal).
fn scale_bits(m: u32) -> u32 {
  let a = m & ABS;
  if (a == 0u) { return 0u; } // all-zero block: +0
  let sign = (m ^ SIGN) & SIGN;
  let e = a >> 23u;
  if (e == 255u) { return sign | a; } // ±∞ (m is never NaN)
  if (e > 3u) { return sign | (a - (3u << 23u)); }
  // |m| / 8 is subnormal: the significand shifted right by 4 − max(e, 1) places, half to even.
  return sign | div_round_half_even(significand(a), 1u << (4u - u32(exponent(a))));
}

// The code of element bits `b` in a block whose extreme has bits `m` (m ≠ ±0, never NaN).
fn q4_code(b: u32, m: u32) -> u32 {
  let a = b & ABS;
  let am = m & ABS;
  if (a > INF) { return 0u; } // w NaN: −8w/m is NaN, which the CPU packs as 0
  if (am == INF) { return select(8u, 0u, a == INF); } // m = ±∞: −8w/m is ±0, or NaN for w = ±∞
  // |r| = 8|w|/|m| = (W / M) · 2^d, with |r| ≤ 8, so d ≤ 3.
  let d = exponent(a) - exponent(am) + 3;
  if (d <= -8) { return 8u; } // |r| < 2^-7 (M ≥ 2^23 here): rounds to 0, never a tie
  let k = div_round_half_even(significand(a) << u32(max(d, 0)), significand(am) << u32(max(-d, 0)));
  // r = −8w/m is negative when w and m have the same sign; round half to even is odd-symmetric.
  let r = select(i32(k), -i32(k), ((b ^ m) & SIGN) == 0u);
  return u32(clamp(r + 8, 0, 15));
}

fn pack_block(start: u32) {
  var m = 0u; // the first element of largest magnitude, NaN never (0: all ±0 or NaN)
  for (var i = 0u; i < BLOCK; i++) {
    let b = element_bits(start + i);
    let a = b & ABS;
    if (a > (m & ABS) && a <= INF) { m = b; }
  }
  scales[start / BLOCK] = scale_bits(m);
  let zero = (m & ABS) == 0u;
  for (var w = 0u; w < BLOCK / 8u; w++) {
    var word = 0x88888888u; // an all-zero block: every code 8
    if (!zero) {
      word = 0u;
      for (var j = 0u; j < 8u; j++) { word = word | (q4_code(element_bits(start + 8u * w + j), m) << (4u * j)); }
    }
    packed[start / 8u + w] = word;
  }
}

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  let first = workgroup_index(lane) * SPAN;
  let end = min(first + SPAN, p.n);
  for (var start = first + lane.lid * BLOCK; start < end; start += WG_SIZE * BLOCK) {
    pack_block(start);
  }
}
