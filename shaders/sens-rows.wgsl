// Element-wise steps of the sensitivity pass, one invocation per element (2-D grids unfolded by
// common.wgsl). CPU twins: applyRope, swigluForward, swigluBackward, linearForward's bias
// (src/infer/sens/ops.ts) and the row gathers of src/infer/sens/pass.ts and head.ts.
// - rope: out [rows, heads, 2·half] rotated in place by the table a = [cos [rows, half], sin [rows, half]];
//   sign −1 rotates back (the backward pass). n = rows·heads·half.
// - swiglu_forward: out = silu(a)·b (a: gate, b: up).
// - swiglu_backward: out = c·b·silu′(a) (dgate), out2 = c·silu(a) (dup), with c = dm.
// - bias_add: out[e] += a[e mod width].
// - gather_rows: out row j = a row idx[j];  scatter_rows: out row idx[j] = a row j (n = listed rows·width).

struct Params { n: u32, width: u32, heads: u32, half: u32, sign: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read> idx: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> out2: array<f32>;

fn element(lane: Lane) -> u32 {
  return workgroup_index(lane) * WG_SIZE + lane.lid;
}

fn sigmoid(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

@compute @workgroup_size(WG_SIZE)
fn rope(lane: Lane) {
  let e = element(lane);
  if (e >= p.n) { return; }
  let i = e % p.half;
  let th = e / p.half;
  let t = th / p.heads;
  let base = th * 2u * p.half;
  let rows = p.n / (p.heads * p.half);
  let cs = a[t * p.half + i];
  let sn = p.sign * a[rows * p.half + t * p.half + i];
  let x0 = out[base + i];
  let x1 = out[base + p.half + i];
  out[base + i] = x0 * cs - x1 * sn;
  out[base + p.half + i] = x1 * cs + x0 * sn;
}

@compute @workgroup_size(WG_SIZE)
fn swiglu_forward(lane: Lane) {
  let e = element(lane);
  if (e >= p.n) { return; }
  out[e] = a[e] * sigmoid(a[e]) * b[e];
}

@compute @workgroup_size(WG_SIZE)
fn swiglu_backward(lane: Lane) {
  let e = element(lane);
  if (e >= p.n) { return; }
  let x = a[e];
  let sg = sigmoid(x);
  out[e] = c[e] * b[e] * sg * (1.0 + x * (1.0 - sg));
  out2[e] = c[e] * x * sg;
}

@compute @workgroup_size(WG_SIZE)
fn bias_add(lane: Lane) {
  let e = element(lane);
  if (e >= p.n) { return; }
  out[e] += a[e % p.width];
}

@compute @workgroup_size(WG_SIZE)
fn gather_rows(lane: Lane) {
  let e = element(lane);
  if (e >= p.n) { return; }
  out[e] = a[idx[e / p.width] * p.width + e % p.width];
}

@compute @workgroup_size(WG_SIZE)
fn scatter_rows(lane: Lane) {
  let e = element(lane);
  if (e >= p.n) { return; }
  out[idx[e / p.width] * p.width + e % p.width] = a[e];
}
