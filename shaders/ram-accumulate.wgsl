// GPU twin of ramAccumulate in src/core/kernels/ram.ts: acc + (|x| > ε ? (count ? w : w·x) : 0).
// x: [n] f32   acc: [n] f32   out: [n] f32      vec4 items (common.wgsl)

struct Params { n: u32, epsilon: f32, w: f32, count: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> acc: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let xv = x[v];
    let add = select(vec4f(p.w) * xv, vec4f(p.w), p.count != 0u);
    out[v] = acc[v] + select(vec4f(0.0), add, abs(xv) > vec4f(p.epsilon));
  }
}
