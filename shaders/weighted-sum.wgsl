// GPU twin of src/core/kernels/weighted-sum.ts: out[i] = Σ_t w_t · x_t[i], accumulated in f32 in
// input order. Up to four inputs per dispatch; longer sums chain dispatches through `acc`
// (ACC = true continues the sum an earlier dispatch wrote), which keeps the CPU's order exactly.
// x0..x3: [n] f32 (slots ≥ K are bound to x0 and never read)   acc: [n] f32   out: [n] f32
// w: the K weights, f32.   One invocation per element, 2-D folded grid.

override K: u32 = 1u;        // inputs used by this dispatch, 1..4
override ACC: bool = false;  // start from acc[i] instead of 0

struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32, w: vec4f }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> x1: array<f32>;
@group(0) @binding(3) var<storage, read> x2: array<f32>;
@group(0) @binding(4) var<storage, read> x3: array<f32>;
@group(0) @binding(5) var<storage, read> acc: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (i >= p.n) { return; }
  var s = p.w.x * x0[i];
  if (ACC) { s = acc[i] + s; }
  if (K > 1u) { s = s + p.w.y * x1[i]; }
  if (K > 2u) { s = s + p.w.z * x2[i]; }
  if (K > 3u) { s = s + p.w.w * x3[i]; }
  out[i] = s;
}
