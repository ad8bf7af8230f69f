// GPU twin of src/core/kernels/aim-scale.ts: the AIM post-step on a chunk of a [out, cols] weight:
//   out[i] = base[i] + (merged[i] − base[i]) · (1 − k · scale[(offset + i) mod cols]),  k = 1 − ω.
// base, merged, out: [n] f32   scale: [cols] f32 (normalised activations s_j ∈ [0, 1])
// Each invocation handles ITER = 64 elements strided by the workgroup size (16384 a workgroup,
// as the vec4 kernels), workgroup id folded 2-D.

const ITER: u32 = 64u;
struct Params { n: u32, offset: u32, cols: u32, k: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> base: array<f32>;
@group(0) @binding(2) var<storage, read> merged: array<f32>;
@group(0) @binding(3) var<storage, read> scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let first = (wg.y * nwg.x + wg.x) * 256u * ITER;
  for (var t = 0u; t < ITER; t++) {
    let i = first + t * 256u + lid;
    if (i >= p.n) { break; }
    let s = scale[(p.offset + i) % p.cols];
    let b = base[i];
    out[i] = b + (merged[i] - b) * (1.0 - p.k * s);
  }
}
