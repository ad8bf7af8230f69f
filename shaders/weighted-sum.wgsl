// GPU twin of src/core/kernels/weighted-sum.ts: out[i] = Σ_t w_t · x_t[i], accumulated in f32 in
// input order. Up to four inputs per dispatch; longer sums chain dispatches through `acc`
// (ACC = true continues the sum an earlier dispatch wrote), which keeps the CPU's order exactly.
// x0..x3: [n] f32 (slots ≥ K are bound to x0 and never read)   acc: [n] f32   out: [n] f32
// w: the K weights, f32.
// Layout: each invocation handles vec4s (4 consecutive elements); a workgroup of 256 handles
// ITER = 16 vec4s per invocation, strided so neighbouring lanes touch neighbouring memory:
// 16384 elements per workgroup, workgroup id folded 2-D. Bindings are sized up to a multiple of
// 16 bytes; lanes past n only touch the buffers' padding, which is never read back.

override K: u32 = 1u;        // inputs used by this dispatch, 1..4
override ACC: bool = false;  // start from acc[i] instead of 0
const ITER: u32 = 16u;

struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32, w: vec4f }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<vec4f>;
@group(0) @binding(2) var<storage, read> x1: array<vec4f>;
@group(0) @binding(3) var<storage, read> x2: array<vec4f>;
@group(0) @binding(4) var<storage, read> x3: array<vec4f>;
@group(0) @binding(5) var<storage, read> acc: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let first = (wg.y * nwg.x + wg.x) * 256u * ITER;
  for (var k = 0u; k < ITER; k++) {
    let v = first + k * 256u + lid;
    if (v * 4u >= p.n) { break; }
    var s = p.w.x * x0[v];
    if (ACC) { s = acc[v] + s; }
    if (K > 1u) { s = s + p.w.y * x1[v]; }
    if (K > 2u) { s = s + p.w.z * x2[v]; }
    if (K > 3u) { s = s + p.w.w * x3[v]; }
    out[v] = s;
  }
}
