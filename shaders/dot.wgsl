// GPU twin of src/core/kernels/dot.ts: per-block f32 partial sums of a_i · b_i over blocks of 256
// consecutive elements, accumulated in order; the host adds the partials in f64.
// a: [n] f32   b: [n] f32   partial: [ceil(n/256)] f32      one invocation per block, WG_SIZE
// blocks per workgroup (workgroup id unfolded by common.wgsl).

const BLOCK: u32 = 256u;

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  let blk = workgroup_index(lane) * WG_SIZE + lane.lid;
  let start = blk * BLOCK;
  if (start >= p.n) { return; }
  let end = min(p.n, start + BLOCK);
  var s = 0.0;
  for (var i = start; i < end; i++) { s = s + a[i] * b[i]; }
  partial[blk] = s;
}
