// GPU twin of src/core/kernels/magnitude-band.ts: keep x where lo ≤ |x| < hi, else 0 (TIES: hi = +∞).
// Compared on f32 bit patterns (|x| bits order like u32), which is exactly the f32 comparison for
// non-NaN values and drops NaNs, as the CPU twin does. Kept values are copied bit for bit.
// x: [n] f32 bits   out: [n] f32 bits   lo, hi: non-negative f32 (+∞ allowed)   vec4 items (common.wgsl)

struct Params { n: u32, lo: f32, hi: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4u>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  let lo = vec4u(bitcast<u32>(p.lo));
  let hi = vec4u(bitcast<u32>(p.hi));
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let b = x[v];
    let a = b & vec4u(0x7fffffffu);
    out[v] = select(vec4u(0u), b, (a >= lo) & (a < hi));
  }
}
