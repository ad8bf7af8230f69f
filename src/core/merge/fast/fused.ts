/**
 * Kernels that read 16-bit storage words straight through their decode tables instead of from
 * decoded f32 arrays (one pass, no decoded copies): the weighted sum and the task vector. Same
 * values, same f32 arithmetic in the same order as kernels.ts, hence the same bits. A long
 * weighted sum reads each operand through a scaled table, f32(w · value) for every word, so its
 * loop only adds (f32(w · x) depends on the word alone, so the table holds the very same value).
 */
const f = Math.fround;

/** Operands shorter than this are scaled in the loop: a table costs 65,536 products. */
const SCALED_TABLE_FROM = 1 << 16;
/** Scaled tables by decode table and f32 weight; a merge uses a few weights, kept across tensors. */
const scaledTables = new Map<Float32Array, Map<number, Float32Array>>();
const MAX_SCALED_TABLES = 8;
let scaledCount = 0;

/** table'[h] = f32(w · table[h]) for every 16-bit word h. */
function scaledTable(table: Float32Array, w: number): Float32Array {
  let byWeight = scaledTables.get(table);
  let scaled = byWeight?.get(w);
  if (scaled) return scaled;
  if (scaledCount >= MAX_SCALED_TABLES) {
    scaledTables.clear();
    scaledCount = 0;
    byWeight = undefined;
  }
  if (!byWeight) scaledTables.set(table, (byWeight = new Map()));
  scaled = new Float32Array(table.length);
  for (let h = 0; h < table.length; h++) scaled[h] = f(w * table[h]!);
  byWeight.set(w, scaled);
  scaledCount++;
  return scaled;
}

/** One operand: words and the table giving each word's f32 value. */
export interface Words {
  readonly words: Uint16Array;
  readonly table: Float32Array;
}

/** out[i] = Σ_t f32(w_t · x_t[i]) over 1–3 operands in storage form (weightedSumInto). */
export function weightedSumWords(xs: readonly Words[], ws: readonly number[], out: Float32Array): void {
  const n = out.length;
  if (n >= SCALED_TABLE_FROM) return scaledSumWords(xs, ws, out);
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

/** weightedSumWords through scaled tables: out[i] = Σ_t table_t'[x_t[i]], summed in order. */
function scaledSumWords(xs: readonly Words[], ws: readonly number[], out: Float32Array): void {
  const n = out.length;
  const [a, b, c] = xs as [Words, Words?, Words?];
  const [sa, sb, sc] = xs.map((x, t) => scaledTable(x.table, f(ws[t]!))) as [
    Float32Array,
    Float32Array?,
    Float32Array?,
  ];
  const xa = a.words;
  if (!b) {
    for (let i = 0; i < n; i++) out[i] = sa[xa[i]!]!;
    return;
  }
  const xb = b.words;
  if (!c) {
    for (let i = 0; i < n; i++) out[i] = f(sa[xa[i]!]! + sb![xb[i]!]!);
    return;
  }
  const xc = c.words;
  for (let i = 0; i < n; i++) out[i] = f(f(sa[xa[i]!]! + sb![xb[i]!]!) + sc![xc[i]!]!);
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
