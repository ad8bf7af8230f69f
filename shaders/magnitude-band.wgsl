// GPU twin of src/core/kernels/magnitude-band.ts: keep x where lo ≤ |x| < hi, else 0 (TIES: hi = +∞).
// Compared on f32 bit patterns (|x| bits order like u32), which is exactly the f32 comparison for
// non-NaN values and drops NaNs, as the CPU twin does. Kept values are copied bit for bit.
// x: [n] f32 bits   out: [n] f32 bits   lo, hi: f32 bits (non-negative; +∞ = 0x7f800000)
// Layout: each invocation handles vec4s (4 consecutive elements); a workgroup of 256 handles
// ITER = 16 vec4s per invocation, strided so neighbouring lanes touch neighbouring memory:
// 16384 elements per workgroup, workgroup id folded 2-D. Bindings are sized up to a multiple of
// 16 bytes; lanes past n only touch the buffers' padding, which is never read back.

const ITER: u32 = 16u;
struct Params { n: u32, lo: u32, hi: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4u>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let first = (wg.y * nwg.x + wg.x) * 256u * ITER;
  for (var k = 0u; k < ITER; k++) {
    let v = first + k * 256u + lid;
    if (v * 4u >= p.n) { break; }
    let b = x[v];
    let a = b & vec4u(0x7fffffffu);
    out[v] = select(vec4u(0u), b, (a >= vec4u(p.lo)) & (a < vec4u(p.hi)));
  }
}
