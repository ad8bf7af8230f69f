// GPU twin of src/core/kernels/nearswap.ts: w = clamp(t / max(|a − b|, 1e-6), 0, 1);
// out = w·b + (1 − w)·a. WGSL's f32 division is within 2.5 ulp, so results agree with the CPU
// twin to a few ulp rather than bit for bit.
// base: [n] f32   other: [n] f32   out: [n] f32      vec4 items (common.wgsl)

struct Params { n: u32, t: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> base: array<vec4f>;
@group(0) @binding(2) var<storage, read> other: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    let a = base[v];
    let b = other[v];
    let diff = max(abs(a - b), vec4f(1e-6));
    let w = clamp(vec4f(p.t) / diff, vec4f(0.0), vec4f(1.0));
    out[v] = w * b + (vec4f(1.0) - w) * a;
  }
}
