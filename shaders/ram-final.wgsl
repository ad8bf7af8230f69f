// GPU twin of ramFinal in src/core/kernels/ram.ts: the λ-weighted value where one model counts,
// the mean of the contributors where several do, 0 where none. WGSL's f32 division is within
// 2.5 ulp, so results agree with the CPU twin to a few ulp.
// sum: [n] f32   weighted: [n] f32   count: [n] f32   out: [n] f32      vec4 items (common.wgsl)

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sum: array<vec4f>;
@group(0) @binding(2) var<storage, read> weighted: array<vec4f>;
@group(0) @binding(3) var<storage, read> count: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let c = count[v];
    let mean = select(vec4f(0.0), sum[v] / max(c, vec4f(1.0)), c > vec4f(1.0));
    out[v] = select(mean, weighted[v], c == vec4f(1.0));
  }
}
