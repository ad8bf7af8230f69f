// GPU twin of src/core/kernels/disjoint-mean.ts: the TIES disjoint merge. Sums the weighted task
// vectors whose sign agrees with the elected sign (zeros never agree); with NORMALIZE, divides by
// the sum of the agreeing models' weights (1 where none agree). Adding an exact 0 for
// non-agreeing inputs leaves the CPU's sums unchanged (the running sum is never −0).
// Up to four inputs per dispatch; longer lists chain through `state` in input order: ACC reads
// state, FINAL = false writes state instead of the result. State interleaves (sum, div) per
// element: state[2v] = (s0, d0, s1, d1), state[2v + 1] = (s2, d2, s3, d3) for elements 4v…4v+3.
// x0..x3: [n] f32 (slots ≥ K bound to x0, unread)   sgn: [n] ±1   state: [2n] f32
// out: [n] f32 (FINAL) or [2n] f32 (state)   w: the K weights      vec4 items (common.wgsl)

override K: u32 = 1u;
override ACC: bool = false;
override FINAL: bool = true;
override NORMALIZE: bool = true;

struct Params { n: u32, w: vec4f }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<vec4f>;
@group(0) @binding(2) var<storage, read> x1: array<vec4f>;
@group(0) @binding(3) var<storage, read> x2: array<vec4f>;
@group(0) @binding(4) var<storage, read> x3: array<vec4f>;
@group(0) @binding(5) var<storage, read> sgn: array<vec4f>;
@group(0) @binding(6) var<storage, read> state: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> out: array<vec4f>;

fn agrees(v: vec4f, g: vec4f) -> vec4<bool> {
  return ((v > vec4f(0.0)) & (g > vec4f(0.0))) | ((v < vec4f(0.0)) & (g < vec4f(0.0)));
}

@compute @workgroup_size(WG_SIZE)
fn main(lane: Lane) {
  for (var v = first_item(lane, 4u); v < end_item(lane, p.n, 4u); v += WG_SIZE) {
    var sum = vec4f(0.0);
    var div = vec4f(0.0);
    if (ACC) {
      let a = state[2u * v];
      let b = state[2u * v + 1u];
      sum = vec4f(a.x, a.z, b.x, b.z);
      div = vec4f(a.y, a.w, b.y, b.w);
    }
    let g = sgn[v];
    var m = agrees(x0[v], g);
    sum = sum + select(vec4f(0.0), x0[v], m);
    div = div + select(vec4f(0.0), vec4f(p.w.x), m);
    if (K > 1u) { m = agrees(x1[v], g); sum = sum + select(vec4f(0.0), x1[v], m); div = div + select(vec4f(0.0), vec4f(p.w.y), m); }
    if (K > 2u) { m = agrees(x2[v], g); sum = sum + select(vec4f(0.0), x2[v], m); div = div + select(vec4f(0.0), vec4f(p.w.z), m); }
    if (K > 3u) { m = agrees(x3[v], g); sum = sum + select(vec4f(0.0), x3[v], m); div = div + select(vec4f(0.0), vec4f(p.w.w), m); }
    if (FINAL) {
      if (NORMALIZE) {
        out[v] = sum / select(div, vec4f(1.0), div == vec4f(0.0));
      } else {
        out[v] = sum;
      }
    } else {
      out[2u * v] = vec4f(sum.x, div.x, sum.y, div.y);
      out[2u * v + 1u] = vec4f(sum.z, div.z, sum.w, div.w);
    }
  }
}
