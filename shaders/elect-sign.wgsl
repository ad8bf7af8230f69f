// GPU twin of src/core/kernels/elect-sign.ts: TIES sign election, γ = sign(Σ_t x_t), 0 counted as +.
// Up to four inputs per dispatch (the backend pre-sums longer lists in order with weighted-sum).
// x0..x3: [n] f32 (slots ≥ K bound to x0, unread)   out: [n] of ±1
// Layout: each invocation handles vec4s (4 consecutive elements); a workgroup of 256 handles
// ITER = 16 vec4s per invocation, strided so neighbouring lanes touch neighbouring memory:
// 16384 elements per workgroup, workgroup id folded 2-D. Bindings are sized up to a multiple of
// 16 bytes; lanes past n only touch the buffers' padding, which is never read back.

override K: u32 = 1u;
const ITER: u32 = 16u;
struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<vec4f>;
@group(0) @binding(2) var<storage, read> x1: array<vec4f>;
@group(0) @binding(3) var<storage, read> x2: array<vec4f>;
@group(0) @binding(4) var<storage, read> x3: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let first = (wg.y * nwg.x + wg.x) * 256u * ITER;
  for (var k = 0u; k < ITER; k++) {
    let v = first + k * 256u + lid;
    if (v * 4u >= p.n) { break; }
    var s = x0[v];
    if (K > 1u) { s = s + x1[v]; }
    if (K > 2u) { s = s + x2[v]; }
    if (K > 3u) { s = s + x3[v]; }
    out[v] = select(vec4f(-1.0), vec4f(1.0), s >= vec4f(0.0));
  }
}
