// GPU twin of src/core/kernels/elect-sign.ts: TIES sign election, γ = sign(Σ_t x_t), 0 counted as +.
// Up to four inputs per dispatch (the backend pre-sums longer lists in order with weighted-sum).
// x0..x3: [n] f32 (slots ≥ K bound to x0, unread)   out: [n] of ±1

override K: u32 = 1u;

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> x1: array<f32>;
@group(0) @binding(3) var<storage, read> x2: array<f32>;
@group(0) @binding(4) var<storage, read> x3: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (i >= p.n) { return; }
  var s = x0[i];
  if (K > 1u) { s = s + x1[i]; }
  if (K > 2u) { s = s + x2[i]; }
  if (K > 3u) { s = s + x3[i]; }
  out[i] = select(-1.0, 1.0, s >= 0.0);
}
