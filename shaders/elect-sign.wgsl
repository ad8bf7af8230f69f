// GPU twin of src/core/kernels/elect-sign.ts: TIES sign election, γ = sign(Σ_t x_t), 0 counted as +.
// Up to four inputs per dispatch (the backend pre-sums longer lists in order with weighted-sum).
// x0..x3: [n] f32 (slots ≥ K bound to x0, unread)   out: [n] of ±1      vec4 items (common.wgsl)

override K: u32 = 1u;
struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<vec4f>;
@group(0) @binding(2) var<storage, read> x1: array<vec4f>;
@group(0) @binding(3) var<storage, read> x2: array<vec4f>;
@group(0) @binding(4) var<storage, read> x3: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    var s = x0[v];
    if (K > 1u) { s = s + x1[v]; }
    if (K > 2u) { s = s + x2[v]; }
    if (K > 3u) { s = s + x3[v]; }
    out[v] = select(vec4f(-1.0), vec4f(1.0), s >= vec4f(0.0));
  }
}
