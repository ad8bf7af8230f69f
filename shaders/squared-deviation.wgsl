// GPU twin of src/core/kernels/squared-deviation.ts: acc + (x − mean)², in f32.
// x: [n] f32   mean: [n] f32   acc: [n] f32   out: [n] f32      vec4 items (common.wgsl)

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> mean: array<vec4f>;
@group(0) @binding(3) var<storage, read> acc: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let d = x[v] - mean[v];
    let sq = d * d;
    out[v] = acc[v] + sq;
  }
}
