// GPU twin of src/core/kernels/aim-scale.ts: the AIM post-step on a chunk of a [out, cols] weight:
//   out[i] = base[i] + (merged[i] − base[i]) · (1 − k · scale[(offset + i) mod cols]),  k = 1 − ω.
// base, merged, out: [n] f32   scale: [cols] f32 (normalised activations s_j ∈ [0, 1])
// Scalar items (common.wgsl): each column index is its own.

struct Params { n: u32, offset: u32, cols: u32, k: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> base: array<f32>;
@group(0) @binding(2) var<storage, read> merged: array<f32>;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var i = first_item(lane, 1u); i < end_item(lane, p.n, 1u); i += WG_SIZE) {
    let s = scale[(p.offset + i) % p.cols];
    let b = base[i];
    out[i] = b + (merged[i] - b) * (1.0 - p.k * s);
  }
}
