/**
 * The decoder's operations, forward and backward, one small function each, on row-major f64
 * matrices ([rows, cols], a row per token). Plain TS written from the definitions (transformers'
 * modeling_qwen2 / modeling_llama), so that each can later be mirrored by a WGSL kernel and checked
 * against it. A linear weight's gradient is never materialised: `linearWeightSensitivity` builds it
 * one output row at a time and folds it into Σ|θ⊙g| and Σθ⊙g straight away.
 */

import { type Mat, type Vec, rowDots, transpose } from './dots';

export type { Mat, Vec } from './dots';

/** Σ|θ⊙g| (element-wise reading) and Σθ⊙g (tensor-wise reading, abs taken later) of one tensor. */
export interface TensorSensitivity {
  abs: number;
  signed: number;
}

/** Raw gradient values wanted at flat indices of one tensor (the parity check's sample). */
export interface GradientProbe {
  readonly indices: readonly number[];
  readonly values: number[];
}

/** Y[t, o] = Σ_i W[o, i]·X[t, i] + b[o], W stored [out, in] as in a checkpoint. */
export function linearForward(x: Mat, w: Vec, rows: number, inDim: number, outDim: number, bias?: Vec): Mat {
  const y = rowDots(x, rows, w, outDim, inDim);
  if (bias)
    for (let t = 0; t < rows; t++) for (let o = 0; o < outDim; o++) y[t * outDim + o] = y[t * outDim + o]! + bias[o]!;
  return y;
}

/** dX[t, i] = Σ_o dY[t, o]·W[o, i]. */
export function linearBackwardInput(dy: Mat, w: Vec, rows: number, inDim: number, outDim: number): Mat {
  return rowDots(dy, rows, transpose(w, outDim, inDim), inDim, outDim);
}

/** Adds θ⊙g of gradient rows (starting at flat index `flatOffset` of the weight) into `acc`, and fills probes. */
export function foldGradientRow(
  acc: TensorSensitivity,
  theta: Vec,
  thetaOffset: number,
  g: Mat,
  flatOffset: number,
  probe?: GradientProbe,
): void {
  let abs = 0;
  let signed = 0;
  for (let i = 0; i < g.length; i++) {
    const p = theta[thetaOffset + i]! * g[i]!;
    abs += Math.abs(p);
    signed += p;
  }
  acc.abs += abs;
  acc.signed += signed;
  if (probe)
    probe.indices.forEach((flat, k) => {
      if (flat >= flatOffset && flat < flatOffset + g.length) probe.values[k] = g[flat - flatOffset]!;
    });
}

/**
 * The weight gradient g[o, :] = Σ_t dY[t, o]·X[t, :], made a block of output rows at a time
 * (rowDots of dYᵀ and Xᵀ) and reduced as soon as the block exists: never the whole [out, in] gradient.
 */
export function linearWeightSensitivity(
  dy: Mat,
  x: Mat,
  w: Vec,
  rows: number,
  inDim: number,
  outDim: number,
  probe?: GradientProbe,
): TensorSensitivity {
  const acc = { abs: 0, signed: 0 };
  const dyT = transpose(dy, rows, outDim);
  const xT = transpose(x, rows, inDim);
  const block = Math.max(2, Math.floor(GRADIENT_BLOCK / inDim));
  for (let o = 0; o < outDim; o += block) {
    const count = Math.min(block, outDim - o);
    const g = rowDots(dyT.subarray(o * rows, (o + count) * rows), count, xT, inDim, rows);
    foldGradientRow(acc, w, o * inDim, g, o * inDim, probe);
  }
  return acc;
}

/** Gradient elements made at a time by linearWeightSensitivity (a 512 KiB block in f64). */
const GRADIENT_BLOCK = 1 << 16;

/** A bias's gradient Σ_t dY[t, :], reduced. */
export function biasSensitivity(dy: Mat, b: Vec, rows: number, outDim: number, probe?: GradientProbe) {
  const g = new Float64Array(outDim);
  for (let t = 0; t < rows; t++) for (let o = 0; o < outDim; o++) g[o] = g[o]! + dy[t * outDim + o]!;
  const acc = { abs: 0, signed: 0 };
  foldGradientRow(acc, b, 0, g, 0, probe);
  return acc;
}

/** RMSNorm y = w ⊙ x / sqrt(mean(x²) + eps); returns y and the per-row 1/rms. */
export function rmsNormForward(x: Mat, w: Vec, rows: number, dim: number, eps: number): { y: Mat; inv: Mat } {
  const y = new Float64Array(rows * dim);
  const inv = new Float64Array(rows);
  for (let t = 0; t < rows; t++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[t * dim + i]! ** 2;
    const r = 1 / Math.sqrt(ss / dim + eps);
    inv[t] = r;
    for (let i = 0; i < dim; i++) y[t * dim + i] = w[i]! * x[t * dim + i]! * r;
  }
  return { y, inv };
}

/** RMSNorm backward: dx = r·(dx̂ − x̂·mean(dx̂⊙x̂)) with dx̂ = dy⊙w; the weight's g = Σ_t dy⊙x̂, reduced. */
export function rmsNormBackward(
  dy: Mat,
  x: Mat,
  w: Vec,
  inv: Mat,
  rows: number,
  dim: number,
  probe?: GradientProbe,
): { dx: Mat; sens: TensorSensitivity } {
  const dx = new Float64Array(rows * dim);
  const gw = new Float64Array(dim);
  for (let t = 0; t < rows; t++) {
    const r = inv[t]!;
    let dot = 0;
    for (let i = 0; i < dim; i++) {
      const xh = x[t * dim + i]! * r;
      gw[i] = gw[i]! + dy[t * dim + i]! * xh;
      dot += dy[t * dim + i]! * w[i]! * xh;
    }
    dot /= dim;
    for (let i = 0; i < dim; i++) dx[t * dim + i] = r * (dy[t * dim + i]! * w[i]! - x[t * dim + i]! * r * dot);
  }
  const sens = { abs: 0, signed: 0 };
  foldGradientRow(sens, w, 0, gw, 0, probe);
  return { dx, sens };
}

/** Rotary angles' cos/sin per position, [rows, headDim/2]. */
export function ropeTables(invFreq: Float32Array, rows: number): { cos: Mat; sin: Mat } {
  const half = invFreq.length;
  const cos = new Float64Array(rows * half);
  const sin = new Float64Array(rows * half);
  for (let t = 0; t < rows; t++)
    for (let i = 0; i < half; i++) {
      const a = t * invFreq[i]!;
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  return { cos, sin };
}

/**
 * rotate_half rotary, in place, on [rows, heads·headDim]: (a, b) → (a·c − b·s, b·c + a·s).
 * `inverse` rotates back by −angle, which is the backward pass (a rotation's transpose).
 */
export function applyRope(x: Mat, rows: number, heads: number, headDim: number, cos: Mat, sin: Mat, inverse = false) {
  const half = headDim / 2;
  const sign = inverse ? -1 : 1;
  for (let t = 0; t < rows; t++)
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const c = cos[t * half + i]!;
        const s = sign * sin[t * half + i]!;
        const a = x[base + i]!;
        const b = x[base + half + i]!;
        x[base + i] = a * c - b * s;
        x[base + half + i] = b * c + a * s;
      }
    }
}

export interface AttentionShape {
  readonly rows: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** Causal softmax probabilities of query head h, [rows, rows] (upper triangle zero). */
export function attentionProbs(q: Mat, k: Mat, s: AttentionShape, h: number): Mat {
  const { rows, heads, kvHeads, headDim } = s;
  const g = Math.floor(h / (heads / kvHeads));
  const scale = 1 / Math.sqrt(headDim);
  const p = new Float64Array(rows * rows);
  for (let t = 0; t < rows; t++) {
    const qo = (t * heads + h) * headDim;
    let max = -Infinity;
    for (let u = 0; u <= t; u++) {
      const ko = (u * kvHeads + g) * headDim;
      let dot = 0;
      for (let i = 0; i < headDim; i++) dot += q[qo + i]! * k[ko + i]!;
      p[t * rows + u] = dot * scale;
      if (p[t * rows + u]! > max) max = p[t * rows + u]!;
    }
    let sum = 0;
    for (let u = 0; u <= t; u++) {
      const e = Math.exp(p[t * rows + u]! - max);
      p[t * rows + u] = e;
      sum += e;
    }
    for (let u = 0; u <= t; u++) p[t * rows + u] = p[t * rows + u]! / sum;
  }
  return p;
}

/** out[t, h] = Σ_u P_h[t, u]·v[u, g(h)]: [rows, heads·headDim]. */
export function attentionForward(q: Mat, k: Mat, v: Mat, s: AttentionShape): Mat {
  const { rows, heads, kvHeads, headDim } = s;
  const out = new Float64Array(rows * heads * headDim);
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / (heads / kvHeads));
    const p = attentionProbs(q, k, s, h);
    for (let t = 0; t < rows; t++) {
      const oo = (t * heads + h) * headDim;
      for (let u = 0; u <= t; u++) {
        const w = p[t * rows + u]!;
        const vo = (u * kvHeads + g) * headDim;
        for (let i = 0; i < headDim; i++) out[oo + i] = out[oo + i]! + w * v[vo + i]!;
      }
    }
  }
  return out;
}

/** Attention backward, one head at a time (its probabilities recomputed): dq, dk, dv. */
export function attentionBackward(dOut: Mat, q: Mat, k: Mat, v: Mat, s: AttentionShape): { dq: Mat; dk: Mat; dv: Mat } {
  const { rows, heads, kvHeads, headDim } = s;
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const scale = 1 / Math.sqrt(headDim);
  const dp = new Float64Array(rows);
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / (heads / kvHeads));
    const p = attentionProbs(q, k, s, h);
    for (let t = 0; t < rows; t++) {
      const oo = (t * heads + h) * headDim;
      let rowDot = 0;
      for (let u = 0; u <= t; u++) {
        const vo = (u * kvHeads + g) * headDim;
        let d = 0;
        for (let i = 0; i < headDim; i++) d += dOut[oo + i]! * v[vo + i]!;
        dp[u] = d;
        rowDot += p[t * rows + u]! * d;
      }
      for (let u = 0; u <= t; u++) {
        const pu = p[t * rows + u]!;
        const ds = pu * (dp[u]! - rowDot) * scale;
        const ko = (u * kvHeads + g) * headDim;
        for (let i = 0; i < headDim; i++) {
          dv[ko + i] = dv[ko + i]! + pu * dOut[oo + i]!;
          dq[oo + i] = dq[oo + i]! + ds * k[ko + i]!;
          dk[ko + i] = dk[ko + i]! + ds * q[oo + i]!;
        }
      }
    }
  }
  return { dq, dk, dv };
}

const sigmoid = (a: number) => 1 / (1 + Math.exp(-a));

/** SwiGLU: m = silu(gate)·up. */
export function swigluForward(gate: Mat, up: Mat): Mat {
  const m = new Float64Array(gate.length);
  for (let i = 0; i < m.length; i++) m[i] = gate[i]! * sigmoid(gate[i]!) * up[i]!;
  return m;
}

/** SwiGLU backward: dgate = dm·up·silu′(gate), dup = dm·silu(gate). */
export function swigluBackward(dm: Mat, gate: Mat, up: Mat): { dGate: Mat; dUp: Mat } {
  const dGate = new Float64Array(gate.length);
  const dUp = new Float64Array(gate.length);
  for (let i = 0; i < dm.length; i++) {
    const a = gate[i]!;
    const sg = sigmoid(a);
    dUp[i] = dm[i]! * a * sg;
    dGate[i] = dm[i]! * up[i]! * sg * (1 + a * (1 - sg));
  }
  return { dGate, dUp };
}

/** a += b, element-wise. */
export function addInPlace(a: Mat, b: Mat): Mat {
  for (let i = 0; i < a.length; i++) a[i] = a[i]! + b[i]!;
  return a;
}
