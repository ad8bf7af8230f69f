// Gradients of the pass's vector-shaped parameters, and the fold of any gradient into the
// sensitivity. CPU twins: rmsNormBackward's weight gradient, biasSensitivity and foldGradientRow
// (src/infer/sens/ops.ts), and the embedding rows of src/infer/sens/pass.ts.
//   a: [rows, width] (dY, or the dX of every position)   b: [rows, width] (a norm's input x)
//   scale: [rows] (the norm's 1/rms)   theta, g: [n] (weight and gradient, flat)
// - column: g[c] = Σ_t a[t, c]·b[t, c]·scale[t] (mode 1: a norm's weight) or Σ_t a[t, c] (mode 0: a bias).
// - embed: g[u, :] += Σ a[t, :] over the positions t listed for used row u: idx holds rows + 1
//   offsets into the position list that follows them (rows = used embedding rows).
// - fold: per workgroup of FOLD_SPAN elements, (Σ|θ⊙g|, Σθ⊙g) into results at slot + 2·workgroup;
//   the first workgroup also copies g[idx[k]] to results[probeSlot + k] (raw gradient probes).

struct Params { rows: u32, width: u32, mode: u32, n: u32, slot: u32, probeCount: u32, probeSlot: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read> theta: array<f32>;
@group(0) @binding(5) var<storage, read> idx: array<u32>;
@group(0) @binding(6) var<storage, read_write> g: array<f32>;
@group(0) @binding(7) var<storage, read_write> results: array<f32>;

const FOLD_SPAN: u32 = 4096u;
var<workgroup> sumAbs: array<f32, 256>;
var<workgroup> sumSigned: array<f32, 256>;

@compute @workgroup_size(64)
fn column(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.width) { return; }
  var s = 0.0;
  for (var t = 0u; t < p.rows; t++) {
    let e = t * p.width + c;
    if (p.mode == 1u) { s = fma(a[e], b[e] * scale[t], s); } else { s += a[e]; }
  }
  g[c] = s;
}

@compute @workgroup_size(64)
fn embed(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wg: vec3u) {
  let i = gid.x;
  let u = wg.y;
  if (i >= p.width || u >= p.rows) { return; }
  var s = g[u * p.width + i];
  for (var j = idx[u]; j < idx[u + 1u]; j++) { s += a[idx[p.rows + 1u + j] * p.width + i]; }
  g[u * p.width + i] = s;
}

@compute @workgroup_size(WG_SIZE)
fn fold(lane: Lane) {
  let wgi = workgroup_index(lane);
  let start = wgi * FOLD_SPAN;
  var sa = 0.0;
  var ss = 0.0;
  for (var i = start + lane.lid; i < min(p.n, start + FOLD_SPAN); i += WG_SIZE) {
    let v = theta[i] * g[i];
    sa += abs(v);
    ss += v;
  }
  sumAbs[lane.lid] = sa;
  sumSigned[lane.lid] = ss;
  workgroupBarrier();
  for (var s = WG_SIZE / 2u; s > 0u; s = s >> 1u) {
    if (lane.lid < s) {
      sumAbs[lane.lid] += sumAbs[lane.lid + s];
      sumSigned[lane.lid] += sumSigned[lane.lid + s];
    }
    workgroupBarrier();
  }
  if (lane.lid == 0u) {
    results[p.slot + 2u * wgi] = sumAbs[0];
    results[p.slot + 2u * wgi + 1u] = sumSigned[0];
  }
  if (wgi == 0u && lane.lid < p.probeCount) { results[p.probeSlot + lane.lid] = g[idx[lane.lid]]; }
}
