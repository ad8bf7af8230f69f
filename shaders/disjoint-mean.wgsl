// GPU twin of src/core/kernels/disjoint-mean.ts: the TIES disjoint merge. Sums the weighted task
// vectors whose sign agrees with the elected sign (zeros never agree); with NORMALIZE, divides by
// the sum of the agreeing models' weights (1 where none agree).
// Up to four inputs per dispatch; longer lists chain through `state` (running sum, divisor) in
// input order: ACC reads state, FINAL = false writes state instead of the result.
// x0..x3: [n] f32 (slots ≥ K bound to x0, unread)   sign: [n] ±1   state: [n] vec2f
// out: [n] f32 (FINAL) or [2n] f32 interleaved (sum, div)   w: the K weights

override K: u32 = 1u;
override ACC: bool = false;
override FINAL: bool = true;
override NORMALIZE: bool = true;

struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32, w: vec4f }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> x1: array<f32>;
@group(0) @binding(3) var<storage, read> x2: array<f32>;
@group(0) @binding(4) var<storage, read> x3: array<f32>;
@group(0) @binding(5) var<storage, read> sgn: array<f32>;
@group(0) @binding(6) var<storage, read> state: array<vec2f>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

fn agrees(v: f32, g: f32) -> bool {
  return (v > 0.0 && g > 0.0) || (v < 0.0 && g < 0.0);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + lid;
  if (i >= p.n) { return; }
  var sum = 0.0;
  var div = 0.0;
  if (ACC) {
    let st = state[i];
    sum = st.x;
    div = st.y;
  }
  let g = sgn[i];
  var v = x0[i];
  if (agrees(v, g)) { sum = sum + v; div = div + p.w.x; }
  if (K > 1u) { v = x1[i]; if (agrees(v, g)) { sum = sum + v; div = div + p.w.y; } }
  if (K > 2u) { v = x2[i]; if (agrees(v, g)) { sum = sum + v; div = div + p.w.z; } }
  if (K > 3u) { v = x3[i]; if (agrees(v, g)) { sum = sum + v; div = div + p.w.w; } }
  if (FINAL) {
    if (NORMALIZE) {
      out[i] = sum / select(div, 1.0, div == 0.0);
    } else {
      out[i] = sum;
    }
  } else {
    out[2u * i] = sum;
    out[2u * i + 1u] = div;
  }
}
