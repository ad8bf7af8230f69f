// GPU twin of src/core/kernels/magnitude-band.ts: keep x where lo ≤ |x| < hi, else 0 (TIES:
// hi = +∞), with ties at either bound split by tensor index: |x| = lo is kept only at an index below
// loEnd, |x| = hi dropped only below hiEnd (ties taken lowest index first, as topKCut counts them).
// Compared on f32 bit patterns (|x| bits order like u32), which drops NaNs as the CPU twin does.
// Kept values are copied bit for bit.
// x: [n] f32 bits   out: [n] f32 bits   lo, hi: non-negative f32 (+∞ allowed)
// loEnd, hiEnd: tie bounds (u32; 2^32 − 1: every tie)   offset: tensor index of x[0]
// vec4 items (common.wgsl)

struct Params { n: u32, lo: f32, hi: f32, loEnd: u32, hiEnd: u32, offset: u32 }

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
    let idx = vec4u(p.offset + 4u * v) + vec4u(0u, 1u, 2u, 3u);
    let inLo = (a > lo) | ((a == lo) & (idx < vec4u(p.loEnd)));
    let inHi = (a > hi) | ((a == hi) & (idx < vec4u(p.hiEnd)));
    out[v] = select(vec4u(0u), b, (a <= vec4u(0x7f800000u)) & inLo & !inHi);
  }
}
