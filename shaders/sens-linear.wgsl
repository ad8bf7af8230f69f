// The linear products of the sensitivity pass on CPU adapters (lavapipe, SwiftShader), where the
// project's tiled matmul wastes most of its 128-row tiles on a sample of a few dozen tokens. No
// workgroup memory, no barriers: one invocation computes an 8×8 block of the result, reading its
// operands straight from storage. CPU twins: linearForward and linearBackwardInput
// (src/infer/sens/ops.ts). Driver: src/infer/sens/gpu/encode.ts (real GPUs use matmul.wgsl).
//   x: [rows, inDim]   w: [outDim, inDim]   dy: [rows, outDim] (bound as x)   res, out: [rows, cols]
// - forward: out[t, o] = Σ_i x[t, i]·w[o, i] (+ res[t, o] when residual).
// - input_grad: out[t, i] = Σ_o dy[t, o]·w[o, i] (+ res[t, i] when residual).

struct Params { rows: u32, inDim: u32, outDim: u32, residual: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> res: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Block (r0, c0) of a [rows, cols] result from a flat invocation index; false past the end.
fn block_of(lane: Lane, cols: u32, r0: ptr<function, u32>, c0: ptr<function, u32>) -> bool {
  let id = workgroup_index(lane) * 64u + lane.lid;
  let blocksX = (cols + 7u) / 8u;
  if (id >= blocksX * ((p.rows + 7u) / 8u)) { return false; }
  *r0 = (id / blocksX) * 8u;
  *c0 = (id % blocksX) * 8u;
  return true;
}

fn store(acc: ptr<function, array<f32, 64>>, r0: u32, c0: u32, cols: u32) {
  for (var a = 0u; a < 8u; a++) {
    let t = r0 + a;
    if (t >= p.rows) { break; }
    for (var b = 0u; b < 8u; b++) {
      let c = c0 + b;
      if (c >= cols) { break; }
      var v = (*acc)[a * 8u + b];
      if (p.residual != 0u) { v += res[t * cols + c]; }
      out[t * cols + c] = v;
    }
  }
}

@compute @workgroup_size(64)
fn forward(lane: Lane) {
  var r0: u32;
  var c0: u32;
  if (!block_of(lane, p.outDim, &r0, &c0)) { return; }
  var acc: array<f32, 64>;
  for (var i = 0u; i < p.inDim; i++) {
    var xv: array<f32, 8>;
    var wv: array<f32, 8>;
    for (var a = 0u; a < 8u; a++) {
      xv[a] = x[min(r0 + a, p.rows - 1u) * p.inDim + i];
      wv[a] = w[min(c0 + a, p.outDim - 1u) * p.inDim + i];
    }
    for (var a = 0u; a < 8u; a++) {
      for (var b = 0u; b < 8u; b++) { acc[a * 8u + b] = fma(xv[a], wv[b], acc[a * 8u + b]); }
    }
  }
  store(&acc, r0, c0, p.outDim);
}

@compute @workgroup_size(64)
fn input_grad(lane: Lane) {
  var r0: u32;
  var c0: u32;
  if (!block_of(lane, p.inDim, &r0, &c0)) { return; }
  var acc: array<f32, 64>;
  for (var o = 0u; o < p.outDim; o++) {
    var dv: array<f32, 8>;
    var wv: array<f32, 8>;
    for (var a = 0u; a < 8u; a++) {
      dv[a] = x[min(r0 + a, p.rows - 1u) * p.outDim + o];
      wv[a] = w[o * p.inDim + min(c0 + a, p.inDim - 1u)];
    }
    for (var a = 0u; a < 8u; a++) {
      for (var b = 0u; b < 8u; b++) { acc[a * 8u + b] = fma(dv[a], wv[b], acc[a * 8u + b]); }
    }
  }
  store(&acc, r0, c0, p.inDim);
}
