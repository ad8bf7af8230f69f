/**
 * Plain-TS reference forward pass of a Qwen2 / Llama decoder, written from the architecture's
 * definition (transformers' modeling_qwen2 / modeling_llama), in f64, with no KV cache and no
 * shared code with src/infer. Slow; for tiny checkpoints only.
 */
import { decodeToF32 } from '../../src/core/dtype';
import type { Checkpoint } from '../../src/core/formats/checkpoint';

type Vec = Float64Array;

async function tensor(ckpt: Checkpoint, name: string): Promise<Float64Array> {
  const t = ckpt.tensor(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return Float64Array.from(decodeToF32(await t.file.readRange(name), t.dtype));
}

/** y[o] = Σ_i W[o, i]·x[i] + b[o], W stored [out, in]. */
function linear(x: Vec, w: Float64Array, out: number, b?: Float64Array): Vec {
  const inn = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o]! : 0;
    for (let i = 0; i < inn; i++) s += w[o * inn + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

function rmsNorm(x: Vec, w: Float64Array, eps: number): Vec {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w[i]!);
}

/** The config.json fields the reference reads. */
interface RefConfig {
  hidden_size: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  intermediate_size: number;
  vocab_size: number;
  rms_norm_eps: number;
  num_hidden_layers: number;
  rope_theta?: number;
  rope_scaling?: {
    rope_type?: string;
    type?: string;
    factor: number;
    low_freq_factor: number;
    high_freq_factor: number;
    original_max_position_embeddings: number;
  } | null;
}

function invFreq(cfg: RefConfig, d: number): number[] {
  const theta = cfg.rope_theta ?? 10000;
  const base = Array.from({ length: d / 2 }, (_, i) => 1 / theta ** ((2 * i) / d));
  const rs = cfg.rope_scaling;
  if (!rs) return base;
  const type = rs.rope_type ?? rs.type;
  if (type === 'linear') return base.map((f) => f / rs.factor);
  if (type === 'llama3') {
    const lowWl = rs.original_max_position_embeddings / rs.low_freq_factor;
    const highWl = rs.original_max_position_embeddings / rs.high_freq_factor;
    return base.map((f) => {
      const wl = (2 * Math.PI) / f;
      if (wl < highWl) return f;
      if (wl > lowWl) return f / rs.factor;
      const s =
        (rs.original_max_position_embeddings / wl - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
      return (1 - s) * (f / rs.factor) + s * f;
    });
  }
  throw new Error(`reference: rope type ${type}`);
}

/** Rotates one head vector in place: x·cos + rotate_half(x)·sin, rotate_half(x) = [-x2, x1]. */
function rope(x: Vec, off: number, d: number, pos: number, freqs: number[]): void {
  const half = d / 2;
  for (let i = 0; i < half; i++) {
    const a = pos * freqs[i]!;
    const c = Math.cos(a);
    const s = Math.sin(a);
    const x1 = x[off + i]!;
    const x2 = x[off + half + i]!;
    x[off + i] = x1 * c - x2 * s;
    x[off + half + i] = x2 * c + x1 * s;
  }
}

/** Logits [ids.length, vocab] for a full sequence. */
/** `onLinearInput` sees the input x of every linear layer inside the decoder layers (AIM calibration checks). */
export async function referenceLogits(
  ckpt: Checkpoint,
  ids: number[],
  onLinearInput?: (weight: string, x: Float64Array) => void,
): Promise<Float32Array> {
  const cfg = ckpt.config!.raw as unknown as RefConfig;
  const H: number = cfg.hidden_size;
  const nH: number = cfg.num_attention_heads;
  const kvH: number = cfg.num_key_value_heads ?? nH;
  const D: number = cfg.head_dim ?? H / nH;
  const I: number = cfg.intermediate_size;
  const V: number = cfg.vocab_size;
  const eps: number = cfg.rms_norm_eps;
  const L: number = cfg.num_hidden_layers;
  const S = ids.length;
  const freqs = invFreq(cfg, D);
  const hasBias = ckpt.tensor('model.layers.0.self_attn.q_proj.bias') !== undefined;

  const embed = await tensor(ckpt, 'model.embed_tokens.weight');
  let xs: Vec[] = ids.map((id) => embed.slice(id * H, (id + 1) * H));
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const t = (n: string) => tensor(ckpt, `${p}.${n}`);
    const [ln1, wq, wk, wv, wo, ln2, wg, wu, wd] = await Promise.all(
      [
        'input_layernorm.weight',
        'self_attn.q_proj.weight',
        'self_attn.k_proj.weight',
        'self_attn.v_proj.weight',
        'self_attn.o_proj.weight',
        'post_attention_layernorm.weight',
        'mlp.gate_proj.weight',
        'mlp.up_proj.weight',
        'mlp.down_proj.weight',
      ].map(t),
    );
    const [bq, bk, bv] = hasBias
      ? await Promise.all(['self_attn.q_proj.bias', 'self_attn.k_proj.bias', 'self_attn.v_proj.bias'].map(t))
      : [];
    const qs: Vec[] = [];
    const ks: Vec[] = [];
    const vs: Vec[] = [];
    const seen = (n: string, x: Vec) => onLinearInput?.(`${p}.${n}.weight`, x);
    xs.forEach((x, pos) => {
      const h = rmsNorm(x, ln1!, eps);
      for (const n of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj']) seen(n, h);
      const q = linear(h, wq!, nH * D, bq);
      const k = linear(h, wk!, kvH * D, bk);
      for (let hd = 0; hd < nH; hd++) rope(q, hd * D, D, pos, freqs);
      for (let hd = 0; hd < kvH; hd++) rope(k, hd * D, D, pos, freqs);
      qs.push(q);
      ks.push(k);
      vs.push(linear(h, wv!, kvH * D, bv));
    });
    const rep = nH / kvH;
    xs = xs.map((x, i) => {
      const attn = new Float64Array(nH * D);
      for (let hd = 0; hd < nH; hd++) {
        const kv = Math.floor(hd / rep); // repeat_kv: query head hd reads KV head hd // rep
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += qs[i]![hd * D + d]! * ks[j]![kv * D + d]!;
          scores.push(s / Math.sqrt(D));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= i; j++) for (let d = 0; d < D; d++) attn[hd * D + d]! += (e[j]! / z) * vs[j]![kv * D + d]!;
      }
      seen('self_attn.o_proj', attn);
      const o = linear(attn, wo!, H);
      const x1 = x.map((v, k) => v + o[k]!);
      const h2 = rmsNorm(x1, ln2!, eps);
      seen('mlp.gate_proj', h2);
      seen('mlp.up_proj', h2);
      const g = linear(h2, wg!, I);
      const u = linear(h2, wu!, I);
      const act = g.map((v, k) => (v / (1 + Math.exp(-v))) * u[k]!);
      seen('mlp.down_proj', act);
      const mlp = linear(act, wd!, H);
      return x1.map((v, k) => v + mlp[k]!);
    });
  }
  const norm = await tensor(ckpt, 'model.norm.weight');
  const head = ckpt.tensor('lm_head.weight') ? await tensor(ckpt, 'lm_head.weight') : embed;
  const out = new Float32Array(S * V);
  xs.forEach((x, i) => out.set(linear(rmsNorm(x, norm, eps), head, V), i * V));
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
