/**
 * Kernels that read 16-bit storage words straight through their decode tables instead of from
 * decoded f32 arrays (one pass, no decoded copies): the weighted sum and the task vector. Same
 * values, same f32 arithmetic in the same order as kernels.ts, hence the same bits.
 */
const f = Math.fround;

/** One operand: words and the table giving each word's f32 value. */
export interface Words {
  readonly words: Uint16Array;
  readonly table: Float32Array;
}

/** out[i] = Σ_t f32(w_t · x_t[i]) over 1–3 operands in storage form (weightedSumInto). */
export function weightedSumWords(xs: readonly Words[], ws: readonly number[], out: Float32Array): void {
  const n = out.length;
  const [a, b, c] = xs as [Words, Words?, Words?];
  const [wa, wb, wc] = ws.map((v) => f(v)) as [number, number, number];
  const ta = a.table;
  const xa = a.words;
  if (xs.length === 1) {
    for (let i = 0; i < n; i++) out[i] = f(wa * ta[xa[i]!]!);
  } else if (xs.length === 2) {
    const tb = b!.table;
    const xb = b!.words;
    for (let i = 0; i < n; i++) out[i] = f(f(wa * ta[xa[i]!]!) + f(wb * tb[xb[i]!]!));
  } else {
    const tb = b!.table;
    const xb = b!.words;
    const tc = c!.table;
    const xc = c!.words;
    for (let i = 0; i < n; i++) out[i] = f(f(f(wa * ta[xa[i]!]!) + f(wb * tb[xb[i]!]!)) + f(wc * tc[xc[i]!]!));
  }
}

/** out = model − base, both in storage form (deltaInto). */
export function deltaWords(model: Words, base: Words, out: Float32Array): void {
  const tm = model.table;
  const xm = model.words;
  const tb = base.table;
  const xb = base.words;
  for (let i = 0; i < out.length; i++) out[i] = tm[xm[i]!]! - tb[xb[i]!]!;
}

/** out = model − base, the model in storage form, the base already decoded (deltaInto). */
export function deltaFromDecoded(model: Words, base: Float32Array, out: Float32Array): void {
  const tm = model.table;
  const xm = model.words;
  for (let i = 0; i < out.length; i++) out[i] = tm[xm[i]!]! - base[i]!;
}
