// The sensitivity of a linear weight without its gradient: G = dYᵀ·X (G[o, i] = Σ_t dY[t, o]·X[t, i])
// is made tile by tile in registers, multiplied by W, and reduced to one partial (Σ|W⊙G|, ΣW⊙G)
// per workgroup; the host adds the partials in f64. CPU twin: linearWeightSensitivity
// (src/infer/sens/ops.ts). Driver: src/infer/sens/gpu/kernels.ts.
//   dy: [rows, dyStride], columns rowBase … rowBase+outCount−1 used   x: [rows, inDim]
//   w: [outCount, inDim] (the bound rows of the weight)   mask: u32 per weight row (1: skipped)
//   results: partials at slot + 2·workgroup; probe values at probeSlot + k
// Entry points:
// - main: 8×8 invocations, 4×4 gradient elements each (a 32×32 tile); rows whose
//   mask[maskBase + rowBase + o] is set are left out when useMask (a tied head's rows that the
//   embedding still adds to).
// - main_registers: the same sums with no workgroup memory and no barriers, for CPU adapters
//   (lavapipe, SwiftShader: there every barrier is a context switch): one invocation owns a whole
//   32×32 tile, 8×8 gradient elements at a time, and writes its partial at slot + 2·tile.
// - probe: G at the flat indices idx[k] of the bound rows (the parity check's raw gradients).
// - rows: whole gradient rows idx[2k] of the bound rows, written to out row idx[2k+1] (the tied
//   head's rows, handed to the embedding); one workgroup row per listed row.

struct Params {
  rows: u32, inDim: u32, dyStride: u32, rowBase: u32,
  outCount: u32, slot: u32, useMask: u32, maskBase: u32,
  probeCount: u32, probeSlot: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<u32>;
@group(0) @binding(5) var<storage, read> idx: array<u32>;
@group(0) @binding(6) var<storage, read_write> results: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

var<workgroup> sumAbs: array<f32, 64>;
var<workgroup> sumSigned: array<f32, 64>;

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let o0 = wg.y * 32u + lid.y * 4u;
  let i0 = wg.x * 32u + lid.x * 4u;
  let oLast = p.outCount - 1u;
  let iLast = p.inDim - 1u;
  var g: array<f32, 16>;
  for (var t = 0u; t < p.rows; t++) {
    let dyRow = t * p.dyStride + p.rowBase;
    let xRow = t * p.inDim;
    var d: array<f32, 4>;
    var xv: array<f32, 4>;
    for (var a = 0u; a < 4u; a++) {
      d[a] = dy[dyRow + min(o0 + a, oLast)];
      xv[a] = x[xRow + min(i0 + a, iLast)];
    }
    for (var a = 0u; a < 4u; a++) {
      for (var b = 0u; b < 4u; b++) { g[a * 4u + b] = fma(d[a], xv[b], g[a * 4u + b]); }
    }
  }
  var sa = 0.0;
  var ss = 0.0;
  for (var a = 0u; a < 4u; a++) {
    let o = o0 + a;
    if (o >= p.outCount) { break; }
    if (p.useMask != 0u && mask[p.maskBase + p.rowBase + o] != 0u) { continue; }
    for (var b = 0u; b < 4u; b++) {
      let i = i0 + b;
      if (i >= p.inDim) { break; }
      let v = w[o * p.inDim + i] * g[a * 4u + b];
      sa += abs(v);
      ss += v;
    }
  }
  sumAbs[li] = sa;
  sumSigned[li] = ss;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (li < s) {
      sumAbs[li] += sumAbs[li + s];
      sumSigned[li] += sumSigned[li + s];
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    let k = p.slot + 2u * (wg.y * nwg.x + wg.x);
    results[k] = sumAbs[0];
    results[k + 1u] = sumSigned[0];
  }
}

@compute @workgroup_size(WG_SIZE)
fn main_registers(lane: Lane) {
  let tile = workgroup_index(lane) * WG_SIZE + lane.lid;
  let tilesX = (p.inDim + 31u) / 32u;
  if (tile >= tilesX * ((p.outCount + 31u) / 32u)) { return; }
  let oTile = (tile / tilesX) * 32u;
  let iTile = (tile % tilesX) * 32u;
  let oLast = p.outCount - 1u;
  let iLast = p.inDim - 1u;
  var sa = 0.0;
  var ss = 0.0;
  for (var sub = 0u; sub < 16u; sub++) {
    let o0 = oTile + (sub / 4u) * 8u;
    let i0 = iTile + (sub % 4u) * 8u;
    if (o0 >= p.outCount || i0 >= p.inDim) { continue; }
    // Zeroed by hand: some compilers hoist a loop's `var` and keep its value between iterations.
    var g: array<f32, 64>;
    for (var e = 0u; e < 64u; e++) { g[e] = 0.0; }
    for (var t = 0u; t < p.rows; t++) {
      let dyRow = t * p.dyStride + p.rowBase;
      let xRow = t * p.inDim;
      var d: array<f32, 8>;
      var xv: array<f32, 8>;
      for (var a = 0u; a < 8u; a++) {
        d[a] = dy[dyRow + min(o0 + a, oLast)];
        xv[a] = x[xRow + min(i0 + a, iLast)];
      }
      for (var a = 0u; a < 8u; a++) {
        for (var b = 0u; b < 8u; b++) { g[a * 8u + b] = fma(d[a], xv[b], g[a * 8u + b]); }
      }
    }
    for (var a = 0u; a < 8u; a++) {
      let o = o0 + a;
      if (o >= p.outCount) { break; }
      if (p.useMask != 0u && mask[p.maskBase + p.rowBase + o] != 0u) { continue; }
      for (var b = 0u; b < 8u; b++) {
        let i = i0 + b;
        if (i >= p.inDim) { break; }
        let v = w[o * p.inDim + i] * g[a * 8u + b];
        sa += abs(v);
        ss += v;
      }
    }
  }
  results[p.slot + 2u * tile] = sa;
  results[p.slot + 2u * tile + 1u] = ss;
}

fn gradient(o: u32, i: u32) -> f32 {
  var s = 0.0;
  for (var t = 0u; t < p.rows; t++) { s = fma(dy[t * p.dyStride + p.rowBase + o], x[t * p.inDim + i], s); }
  return s;
}

@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  if (k >= p.probeCount) { return; }
  let flat = idx[k];
  results[p.probeSlot + k] = gradient(flat / p.inDim, flat % p.inDim);
}

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wg: vec3u) {
  let i = gid.x;
  let k = wg.y;
  if (i >= p.inDim || k >= p.probeCount) { return; }
  out[idx[2u * k + 1u] * p.inDim + i] = gradient(idx[2u * k], i);
}
