// The next-token cross-entropy over a head streamed in vocabulary chunks. CPU twins: headLoss and
// headBackward (src/infer/sens/head.ts). The chunk's logits z [rows, width] are a matmul of the
// loss rows' hidden states and the chunk's head rows (vocabulary ids first … first+width−1).
//   labels: [rows] u32   stats: [5, rows]: running max, running sum of exp, its Kahan compensation,
//   the label's logit, the log-sum-exp
// - lse_update: one invocation per loss row folds the chunk into its running max and sum.
// - lse_final: lse = max + log(sum).
// - dlogits: z ← (softmax(z) − onehot(label))·scale, in place (scale = 1/rows: the mean's gradient).

struct Params { rows: u32, width: u32, first: u32, scale: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(64)
fn lse_update(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  if (j >= p.rows) { return; }
  let base = j * p.width;
  var m = stats[j];
  for (var r = 0u; r < p.width; r++) { m = max(m, z[base + r]); }
  let rescale = exp(stats[j] - m);
  var sum = stats[p.rows + j] * rescale;
  var comp = stats[2u * p.rows + j] * rescale;
  for (var r = 0u; r < p.width; r++) {
    let y = exp(z[base + r] - m) - comp;
    let s = sum + y;
    comp = (s - sum) - y;
    sum = s;
  }
  stats[j] = m;
  stats[p.rows + j] = sum;
  stats[2u * p.rows + j] = comp;
  let label = labels[j];
  if (label >= p.first && label < p.first + p.width) { stats[3u * p.rows + j] = z[base + label - p.first]; }
}

@compute @workgroup_size(64)
fn lse_final(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  if (j >= p.rows) { return; }
  stats[4u * p.rows + j] = stats[j] + log(stats[p.rows + j]);
}

@compute @workgroup_size(WG_SIZE)
fn dlogits(lane: Lane) {
  let e = workgroup_index(lane) * WG_SIZE + lane.lid;
  if (e >= p.rows * p.width) { return; }
  let j = e / p.width;
  var onehot = 0.0;
  if (labels[j] == p.first + e % p.width) { onehot = 1.0; }
  z[e] = (exp(z[e] - stats[4u * p.rows + j]) - onehot) * p.scale;
}
