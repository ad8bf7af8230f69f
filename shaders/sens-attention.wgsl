// Causal grouped-query attention of the sensitivity pass, forward and backward, one invocation per
// (position, head); probabilities are recomputed from q, k and each row's log-sum-exp, never
// stored. CPU twins: attentionForward and attentionBackward (src/infer/sens/ops.ts).
//   q, dq, o, dout: [rows, heads, headDim]   k, v: [rows, kvHeads, headDim]; query head h reads
//   kv head h / (heads / kvHeads)   stats: [2, rows, heads] (log-sum-exp, then D = dout·o)
//   dkv: [2, rows, kvHeads, headDim] (dk, then dv)
// - forward: o and the log-sum-exp.
// - backward_dq: D and dq = Σ_u p·(dout·v_u − D)·scale·k_u, per query row.
// - backward_dkv: per key row u and kv head, over the query heads of its group and rows t ≥ u:
//   dv_u = Σ p·dout_t, dk_u = Σ p·(dout_t·v_u − D_t)·scale·q_t (no atomics: each invocation owns its row).

struct Params { rows: u32, heads: u32, kvHeads: u32, headDim: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> dout: array<f32>;
@group(0) @binding(5) var<storage, read_write> o: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;
@group(0) @binding(7) var<storage, read_write> dq: array<f32>;
@group(0) @binding(8) var<storage, read_write> dkv: array<f32>;

const MAX_HEAD_DIM: u32 = 256u;

fn dot_qk(qo: u32, ko: u32) -> f32 {
  var s = 0.0;
  for (var i = 0u; i < p.headDim; i++) { s = fma(q[qo + i], k[ko + i], s); }
  return s * p.scale;
}

fn dot_dv(qo: u32, ko: u32) -> f32 {
  var s = 0.0;
  for (var i = 0u; i < p.headDim; i++) { s = fma(dout[qo + i], v[ko + i], s); }
  return s;
}

fn kv_offset(u: u32, h: u32) -> u32 {
  return (u * p.kvHeads + h / (p.heads / p.kvHeads)) * p.headDim;
}

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3u) {
  let id = gid.x;
  if (id >= p.rows * p.heads) { return; }
  let t = id / p.heads;
  let h = id % p.heads;
  let qo = id * p.headDim;
  var m = -3.0e38;
  for (var u = 0u; u <= t; u++) { m = max(m, dot_qk(qo, kv_offset(u, h))); }
  var sum = 0.0;
  var acc: array<f32, MAX_HEAD_DIM>;
  for (var u = 0u; u <= t; u++) {
    let ko = kv_offset(u, h);
    let e = exp(dot_qk(qo, ko) - m);
    sum += e;
    for (var i = 0u; i < p.headDim; i++) { acc[i] = fma(e, v[ko + i], acc[i]); }
  }
  for (var i = 0u; i < p.headDim; i++) { o[qo + i] = acc[i] / sum; }
  stats[id] = m + log(sum);
}

@compute @workgroup_size(64)
fn backward_dq(@builtin(global_invocation_id) gid: vec3u) {
  let id = gid.x;
  if (id >= p.rows * p.heads) { return; }
  let t = id / p.heads;
  let h = id % p.heads;
  let qo = id * p.headDim;
  var d = 0.0;
  for (var i = 0u; i < p.headDim; i++) { d = fma(dout[qo + i], o[qo + i], d); }
  stats[p.rows * p.heads + id] = d;
  let lse = stats[id];
  var acc: array<f32, MAX_HEAD_DIM>;
  for (var u = 0u; u <= t; u++) {
    let ko = kv_offset(u, h);
    let pr = exp(dot_qk(qo, ko) - lse);
    let ds = pr * (dot_dv(qo, ko) - d) * p.scale;
    for (var i = 0u; i < p.headDim; i++) { acc[i] = fma(ds, k[ko + i], acc[i]); }
  }
  for (var i = 0u; i < p.headDim; i++) { dq[qo + i] = acc[i]; }
}

@compute @workgroup_size(64)
fn backward_dkv(@builtin(global_invocation_id) gid: vec3u) {
  let id = gid.x;
  if (id >= p.rows * p.kvHeads) { return; }
  let u = id / p.kvHeads;
  let g = id % p.kvHeads;
  let group = p.heads / p.kvHeads;
  let ko = id * p.headDim;
  var dk: array<f32, MAX_HEAD_DIM>;
  var dv: array<f32, MAX_HEAD_DIM>;
  for (var hh = 0u; hh < group; hh++) {
    let h = g * group + hh;
    for (var t = u; t < p.rows; t++) {
      let r = t * p.heads + h;
      let qo = r * p.headDim;
      let pr = exp(dot_qk(qo, ko) - stats[r]);
      let ds = pr * (dot_dv(qo, ko) - stats[p.rows * p.heads + r]) * p.scale;
      for (var i = 0u; i < p.headDim; i++) {
        dv[i] = fma(pr, dout[qo + i], dv[i]);
        dk[i] = fma(ds, q[qo + i], dk[i]);
      }
    }
  }
  let half = p.rows * p.kvHeads * p.headDim;
  for (var i = 0u; i < p.headDim; i++) {
    dkv[ko + i] = dk[i];
    dkv[half + ko + i] = dv[i];
  }
}
