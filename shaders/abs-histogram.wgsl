// GPU twin of src/core/kernels/abs-histogram.ts: one pass of the radix select over |x|.
// |x| as f32 bits (sign cleared) orders like an unsigned integer, so the selection is exact.
// Counts elements whose bits match `prefix` above `prefixShift`, bucketed by the bits at `shift`
// (mask = 2^width − 1). NaNs are never counted. Counts ACCUMULATE into `counts`.
// x: [n] f32 bits   counts: [2^width] u32 (width ≤ 11)
// `main`: each workgroup histograms its block (vec4 items, common.wgsl) in workgroup memory, then
// adds its non-zero bins to the global histogram with atomics. `main_global`: atomics straight
// into `counts`, no workgroup memory or barrier (SwiftShader runs a kernel with barriers as one
// coroutine per 4 invocations, each with its own stack: ~60 MB resident, ~190 MB while compiling,
// and slower). Elements at or past n are never counted.

const BINS: u32 = 2048u;

struct Params { n: u32, prefix: u32, prefixShift: u32, shift: u32, mask: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> hist: array<atomic<u32>, BINS>;

// Element i with |x| bits `a`: in range, not NaN, under the prefix.
fn counted(i: u32, a: u32) -> bool {
  return i < p.n && a <= 0x7f800000u && (a >> p.prefixShift) == p.prefix;
}

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var b = lane.lid; b < BINS; b += WG_SIZE) { atomicStore(&hist[b], 0u); }
  workgroupBarrier();
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let q = x[v] & vec4u(0x7fffffffu);
    for (var j = 0u; j < 4u; j++) {
      let a = q[j];
      if (counted(v * 4u + j, a)) { atomicAdd(&hist[(a >> p.shift) & p.mask], 1u); }
    }
  }
  workgroupBarrier();
  for (var b = lane.lid; b <= p.mask; b += WG_SIZE) {
    let c = atomicLoad(&hist[b]);
    if (c != 0u) { atomicAdd(&counts[b], c); }
  }
}

@compute @workgroup_size(WG_SIZE)
fn main_global(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let q = x[v] & vec4u(0x7fffffffu);
    for (var j = 0u; j < 4u; j++) {
      let a = q[j];
      if (counted(v * 4u + j, a)) { atomicAdd(&counts[(a >> p.shift) & p.mask], 1u); }
    }
  }
}
