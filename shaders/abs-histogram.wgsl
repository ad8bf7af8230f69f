// GPU twin of src/core/kernels/abs-histogram.ts: one pass of the radix select over |x|.
// |x| as f32 bits (sign cleared) orders like an unsigned integer, so the selection is exact.
// Counts elements whose bits match `prefix` above `prefix_shift`, bucketed by the bits at `shift`
// (mask = 2^width − 1). NaNs are never counted. Counts ACCUMULATE into `counts`.
// x: [n] f32 bits   counts: [2^width] u32 (width ≤ 11)
// Each workgroup histograms 256 × ITER vec4s (16384 elements, lanes reading neighbouring vec4s)
// in workgroup memory, then adds its non-zero bins to the global histogram with atomics.
// Elements at or past n (binding padding) are never counted.

const ITER: u32 = 16u;
const BINS: u32 = 2048u;

struct Params { n: u32, prefix: u32, prefix_shift: u32, shift: u32, mask: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> hist: array<atomic<u32>, BINS>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  for (var b = lid; b < BINS; b += 256u) { atomicStore(&hist[b], 0u); }
  workgroupBarrier();
  let first = (wg.y * nwg.x + wg.x) * 256u * ITER;
  for (var k = 0u; k < ITER; k++) {
    let v = first + k * 256u + lid;
    if (v * 4u < p.n) {
      let q = x[v] & vec4u(0x7fffffffu);
      for (var j = 0u; j < 4u; j++) {
        let a = q[j];
        if (v * 4u + j < p.n && a <= 0x7f800000u && (a >> p.prefix_shift) == p.prefix) {
          atomicAdd(&hist[(a >> p.shift) & p.mask], 1u);
        }
      }
    }
  }
  workgroupBarrier();
  for (var b = lid; b <= p.mask; b += 256u) {
    let c = atomicLoad(&hist[b]);
    if (c != 0u) { atomicAdd(&counts[b], c); }
  }
}
