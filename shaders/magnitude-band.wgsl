// GPU twin of src/core/kernels/magnitude-band.ts: keep x where lo ≤ |x| < hi, else 0 (TIES: hi = +∞).
// Compared on f32 bit patterns (|x| bits order like u32), which is exactly the f32 comparison for
// non-NaN values and drops NaNs, as the CPU twin does. Kept values are copied bit for bit.
// x: [n] f32 bits   out: [n] f32 bits   lo, hi: f32 bits (non-negative; +∞ = 0x7f800000)

struct Params { n: u32, lo: u32, hi: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let v = x[i];
  let a = v & 0x7fffffffu;
  out[i] = select(0u, v, a >= p.lo && a < p.hi);
}
