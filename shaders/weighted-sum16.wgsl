// The weighted sum read straight from 16-bit storage words (or, for inputs marked in F32_IN, f32
// values): out[i] = Σ_t w_t · x_t[i], each 16-bit x_t widened to f32 by the bit codec of shaders/f16-bits.wgsl (the twin of src/core/dtype.ts), then the
// f32 arithmetic of shaders/weighted-sum.wgsl in the same order, so its bits equal decoding each input
// (dtype.wgsl load16) and summing; `main16` also narrows the sum to 16 bits as dtype.wgsl store16 does
// (round-to-nearest-even). One pass: 2 bytes read per input and 2 (main16) or 4 (main) written per element.
// x0..x3: [ceil(n/2)] u32 words, two 16-bit values each, or [n] f32 for inputs in F32_IN
// (slots ≥ K are bound to x0 and never read)
// main: out: [n] f32     main16: out: [ceil(n/2)] u32 words     vec4 items (common.wgsl)

override K: u32 = 1u;             // inputs, 1..4
override BF16_IN: u32 = 0u;       // bit t set: input t holds bf16 words, else f16
override F32_IN: u32 = 0u;        // bit t set: input t holds f32 values (BF16_IN's bit ignored)
override BF16_OUT: bool = false;  // main16: bf16 words out, else f16

struct Params { n: u32, w: vec4f }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<vec2u>;
@group(0) @binding(2) var<storage, read> x1: array<vec2u>;
@group(0) @binding(3) var<storage, read> x2: array<vec2u>;
@group(0) @binding(4) var<storage, read> x3: array<vec2u>;
// main writes f32 items, main16 16-bit words: one binding, one variable per entry point.
@group(0) @binding(5) var<storage, read_write> out32: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> out16: array<vec2u>;

fn widen(t: u32, h: u32) -> f32 {
  if ((BF16_IN & (1u << t)) != 0u) { return bitcast<f32>(h << 16u); }
  return bitcast<f32>(f16_to_f32_bits(h));
}

fn item(t: u32, w: vec2u) -> vec4f {
  return vec4f(widen(t, w.x & 0xffffu), widen(t, w.x >> 16u), widen(t, w.y & 0xffffu), widen(t, w.y >> 16u));
}

fn is_f32(t: u32) -> bool { return (F32_IN & (1u << t)) != 0u; }

// Item v of each input: four f32 (two vec2u of the binding) or four 16-bit values (one vec2u).
fn item0(v: u32) -> vec4f {
  if (is_f32(0u)) { return bitcast<vec4f>(vec4u(x0[2u * v], x0[2u * v + 1u])); }
  return item(0u, x0[v]);
}
fn item1(v: u32) -> vec4f {
  if (is_f32(1u)) { return bitcast<vec4f>(vec4u(x1[2u * v], x1[2u * v + 1u])); }
  return item(1u, x1[v]);
}
fn item2(v: u32) -> vec4f {
  if (is_f32(2u)) { return bitcast<vec4f>(vec4u(x2[2u * v], x2[2u * v + 1u])); }
  return item(2u, x2[v]);
}
fn item3(v: u32) -> vec4f {
  if (is_f32(3u)) { return bitcast<vec4f>(vec4u(x3[2u * v], x3[2u * v + 1u])); }
  return item(3u, x3[v]);
}

fn weighted_sum(v: u32) -> vec4f {
  var s = p.w.x * item0(v);
  if (K > 1u) { s = s + p.w.y * item1(v); }
  if (K > 2u) { s = s + p.w.z * item2(v); }
  if (K > 3u) { s = s + p.w.w * item3(v); }
  return s;
}

fn narrow(b: u32) -> u32 {
  if (BF16_OUT) { return f32_bits_to_bf16(b); }
  return f32_bits_to_f16(b);
}

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    out32[v] = weighted_sum(v);
  }
}

@compute @workgroup_size(WG_SIZE)
fn main16(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let b = bitcast<vec4u>(weighted_sum(v));
    out16[v] = vec2u(narrow(b.x) | (narrow(b.y) << 16u), narrow(b.z) | (narrow(b.w) << 16u));
  }
}
