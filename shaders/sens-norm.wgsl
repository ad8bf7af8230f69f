// RMSNorm of the sensitivity pass, one workgroup per row (token). CPU twins: rmsNormForward and
// rmsNormBackward (src/infer/sens/ops.ts); the weight's gradient is sens-vector.wgsl's `column`.
//   x, dy, res, out: [rows, dim]   w: [dim]   inv: [rows] (1/rms of each row)
// - forward: out = w ⊙ x · r, r = 1/sqrt(mean(x²) + eps), inv[t] = r.
// - backward: out = r·(dy⊙w − x·r·mean(dy⊙w⊙x·r)) (+ res when residual: the skip connection).

struct Params { rows: u32, dim: u32, eps: f32, residual: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> inv: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

const NORM_LANES: u32 = 64u;
var<workgroup> partial: array<f32, 64>;

fn row_sum(li: u32, v: f32) -> f32 {
  partial[li] = v;
  workgroupBarrier();
  for (var s = NORM_LANES / 2u; s > 0u; s = s >> 1u) {
    if (li < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(NORM_LANES)
fn forward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let t = wg.x;
  let base = t * p.dim;
  var ss = 0.0;
  for (var i = li; i < p.dim; i += NORM_LANES) { ss = fma(x[base + i], x[base + i], ss); }
  let r = 1.0 / sqrt(row_sum(li, ss) / f32(p.dim) + p.eps);
  if (li == 0u) { inv[t] = r; }
  for (var i = li; i < p.dim; i += NORM_LANES) { out[base + i] = w[i] * x[base + i] * r; }
}

@compute @workgroup_size(NORM_LANES)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let t = wg.x;
  let base = t * p.dim;
  let r = inv[t];
  var dot = 0.0;
  for (var i = li; i < p.dim; i += NORM_LANES) { dot = fma(dy[base + i] * w[i], x[base + i] * r, dot); }
  let mean = row_sum(li, dot) / f32(p.dim);
  for (var i = li; i < p.dim; i += NORM_LANES) {
    var v = r * (dy[base + i] * w[i] - x[base + i] * r * mean);
    if (p.residual != 0u) { v += res[base + i]; }
    out[base + i] = v;
  }
}
