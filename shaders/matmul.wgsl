// Tiled matrix multiply: C = op(A)·op(B) (+ C₀ or + C), f32, row-major storage.
// CPU twin: src/core/kernels/matmul.ts. Driver (blocks, dispatch): src/gpu/linalg.ts.
//
// Shapes (one dispatch computes one block of the product; the driver splits large operands into
// blocks whose storage ranges fit the binding limit):
//   op(A): [M, K]   A stored [M, K] (row stride lda), or [K, M] when TRANS_A
//   op(B): [K, N]   B stored [K, N] (row stride ldb), or [N, K] when TRANS_B
//   C:     [M, N]   row stride ldc; C₀ likewise
// Each element index is `*Off + row·ld + col` within the bound window.
// Two entry points, same bindings:
// - main: a workgroup computes a 64×64 tile of C with 16×16 invocations, 4×4 outputs each,
//   stepping K by 16 through workgroup memory (8 KiB): the kernel for real GPUs.
// - main_registers: no workgroup memory and no barriers; 8×8 invocations, 16×4 outputs each
//   (a 128×32 tile), operands read straight from storage. On CPU implementations of WebGPU
//   (lavapipe, SwiftShader) workgroup memory is ordinary memory and every barrier is a context
//   switch, and this variant measured 2–3× faster there (bench/svd.ts).
// Loads are guarded (clamped indices), so any M, N, K work.

struct Params {
  M: u32, N: u32, K: u32, lda: u32,
  ldb: u32, ldc: u32, aOff: u32, bOff: u32,
  cOff: u32, c0Off: u32,
  flags: u32, // bit 0: TRANS_A, bit 1: TRANS_B
  acc: u32,   // 0: C = AB;  1: C = AB + C₀;  2: C = AB + C (accumulating over K blocks)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c0: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// The variants are uniforms, not override constants: one pipeline to compile (slow on lavapipe),
// and the branches are uniform and outside the inner loop.

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

var<workgroup> As: array<f32, 1024>; // [TK][TM]
var<workgroup> Bs: array<f32, 1024>; // [TK][TN]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let row0 = wg.y * TM;
  let col0 = wg.x * TN;
  let TRANS_A = (p.flags & 1u) != 0u;
  let TRANS_B = (p.flags & 2u) != 0u;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var e = 0u; e < 4u; e++) {
      let idx = li + e * 256u;
      // A tile, read along A's contiguous dimension.
      var mm: u32;
      var kk: u32;
      if (TRANS_A) { mm = idx % TM; kk = idx / TM; } else { kk = idx % TK; mm = idx / TK; }
      let gm = row0 + mm;
      let gk = k0 + kk;
      var av = 0.0;
      if (gm < p.M && gk < p.K) {
        if (TRANS_A) { av = a[p.aOff + gk * p.lda + gm]; } else { av = a[p.aOff + gm * p.lda + gk]; }
      }
      As[kk * TM + mm] = av;
      // B tile.
      var nn: u32;
      var kb: u32;
      if (TRANS_B) { kb = idx % TK; nn = idx / TK; } else { nn = idx % TN; kb = idx / TN; }
      let gn = col0 + nn;
      let gkb = k0 + kb;
      var bv = 0.0;
      if (gn < p.N && gkb < p.K) {
        if (TRANS_B) { bv = b[p.bOff + gn * p.ldb + gkb]; } else { bv = b[p.bOff + gkb * p.ldb + gn]; }
      }
      Bs[kb * TN + nn] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let ar = vec4f(As[kk * TM + lid.y * 4u], As[kk * TM + lid.y * 4u + 1u], As[kk * TM + lid.y * 4u + 2u], As[kk * TM + lid.y * 4u + 3u]);
      let br = vec4f(Bs[kk * TN + lid.x * 4u], Bs[kk * TN + lid.x * 4u + 1u], Bs[kk * TN + lid.x * 4u + 2u], Bs[kk * TN + lid.x * 4u + 3u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i * 4u] = fma(ar[i], br.x, acc[i * 4u]);
        acc[i * 4u + 1u] = fma(ar[i], br.y, acc[i * 4u + 1u]);
        acc[i * 4u + 2u] = fma(ar[i], br.z, acc[i * 4u + 2u]);
        acc[i * 4u + 3u] = fma(ar[i], br.w, acc[i * 4u + 3u]);
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let gm = row0 + lid.y * 4u + i;
    if (gm >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let gn = col0 + lid.x * 4u + j;
      if (gn >= p.N) { break; }
      var v = acc[i * 4u + j];
      let ci = p.cOff + gm * p.ldc + gn;
      if (p.acc == 1u) { v += c0[p.c0Off + gm * p.ldc + gn]; }
      if (p.acc == 2u) { v += c[ci]; }
      c[ci] = v;
    }
  }
}

// ---------------------------------------------------------------- main_registers

@compute @workgroup_size(8, 8)
fn main_registers(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let TRANS_A = (p.flags & 1u) != 0u;
  let TRANS_B = (p.flags & 2u) != 0u;
  let r0 = wg.y * 128u + lid.y * 16u;
  let cc = wg.x * 32u + lid.x * 4u;
  var acc: array<f32, 64>;
  for (var k = 0u; k < p.K; k++) {
    var av: array<f32, 16>;
    var bv: array<f32, 4>;
    for (var i = 0u; i < 16u; i++) {
      let gm = min(r0 + i, p.M - 1u);
      if (TRANS_A) { av[i] = a[p.aOff + k * p.lda + gm]; } else { av[i] = a[p.aOff + gm * p.lda + k]; }
    }
    for (var j = 0u; j < 4u; j++) {
      let gn = min(cc + j, p.N - 1u);
      if (TRANS_B) { bv[j] = b[p.bOff + gn * p.ldb + k]; } else { bv[j] = b[p.bOff + k * p.ldb + gn]; }
    }
    for (var i = 0u; i < 16u; i++) {
      for (var j = 0u; j < 4u; j++) {
        acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
      }
    }
  }
  for (var i = 0u; i < 16u; i++) {
    let gm = r0 + i;
    if (gm >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let gn = cc + j;
      if (gn >= p.N) { break; }
      var v = acc[i * 4u + j];
      let ci = p.cOff + gm * p.ldc + gn;
      if (p.acc == 1u) { v += c0[p.c0Off + gm * p.ldc + gn]; }
      if (p.acc == 2u) { v += c[ci]; }
      c[ci] = v;
    }
  }
}
