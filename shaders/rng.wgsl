// Counter-based random numbers, bit for bit the same as src/core/kernels/rng.ts (lowbias32 hash).
// u32 multiplication wraps modulo 2^32 in WGSL, as Math.imul does.

fn lowbias32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

// The two per-(seed, stream) keys of randomU32.
fn rng_keys(seed: u32, stream: u32) -> vec2u {
  let k1 = lowbias32(seed ^ lowbias32(stream));
  let k2 = lowbias32(k1 ^ 0x9e3779b9u);
  return vec2u(k1, k2);
}

// randomU32(seed, stream, index) with the keys precomputed.
fn random_u32(keys: vec2u, index: u32) -> u32 {
  return lowbias32(lowbias32(index ^ keys.x) ^ keys.y);
}
