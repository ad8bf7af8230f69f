// GPU twin of src/core/kernels/delta.ts: the task vector δ = θ_t − θ₀.
// model: [n] f32   base: [n] f32   out: [n] f32      vec4 items (common.wgsl)

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> model: array<vec4f>;
@group(0) @binding(2) var<storage, read> base: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    out[v] = model[v] - base[v];
  }
}
