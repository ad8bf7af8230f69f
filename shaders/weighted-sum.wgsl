// GPU twin of src/core/kernels/weighted-sum.ts: out[i] = Σ_t w_t · x_t[i], accumulated in f32 in
// input order. Up to four inputs per dispatch; longer sums chain dispatches through `acc`
// (ACC = true continues the sum an earlier dispatch wrote), which keeps the CPU's order exactly.
// x0..x3: [n] f32 (slots ≥ K are bound to x0 and never read)   acc: [n] f32   out: [n] f32
// w: the K weights, f32.      vec4 items (common.wgsl)

override K: u32 = 1u;        // inputs used by this dispatch, 1..4
override ACC: bool = false;  // start from acc[i] instead of 0

struct Params { n: u32, w: vec4f }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<vec4f>;
@group(0) @binding(2) var<storage, read> x1: array<vec4f>;
@group(0) @binding(3) var<storage, read> x2: array<vec4f>;
@group(0) @binding(4) var<storage, read> x3: array<vec4f>;
@group(0) @binding(5) var<storage, read> acc: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    var s = p.w.x * x0[v];
    if (ACC) { s = acc[v] + s; }
    if (K > 1u) { s = s + p.w.y * x1[v]; }
    if (K > 2u) { s = s + p.w.z * x2[v]; }
    if (K > 3u) { s = s + p.w.w * x3[v]; }
    out[v] = s;
  }
}
