/**
 * Structure-aware mutation of JSON documents: a valid document with one field changed. A
 * mutation is plain data (`JsonMutation`, what fast-check generates and the corpus stores); applying
 * it picks the field by index among all fields, then replaces, deletes, duplicates or nests it.
 * Some values cannot be written as JSON values (NaN, duplicate keys): they are spliced into the text.
 */
import fc from 'fast-check';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** Values that break naive parsers: sizes, signs, precision, unicode, nesting, bulk. */
export const NASTY_VALUES = [
  'null',
  'true',
  'zero',
  'minus-one',
  'negative',
  'fraction',
  'huge',
  'max-u64',
  'past-safe-integer',
  'nan',
  'infinity',
  'empty-string',
  'unicode',
  'long-string',
  'empty-array',
  'empty-object',
  'deep-array',
  'deep-object',
  'big-array',
  'number-string',
] as const;
export type NastyValue = (typeof NASTY_VALUES)[number];

export type JsonMutation =
  | { op: 'replace'; at: number; value: NastyValue }
  | { op: 'scale'; at: number; factor: number }
  | { op: 'delete'; at: number }
  | { op: 'duplicate-key'; at: number; value: NastyValue }
  | { op: 'wrap'; at: number; inArray: boolean }
  | { op: 'rename'; at: number; name: string };

/** Placeholders for text that JSON.stringify cannot produce; replaced after stringifying. */
const RAW = '\u0001raw:';
const DUP = '\u0001dup:';

function nasty(v: NastyValue): JsonValue {
  switch (v) {
    case 'null':
      return null;
    case 'true':
      return true;
    case 'zero':
      return 0;
    case 'minus-one':
      return -1;
    case 'negative':
      return -123456789;
    case 'fraction':
      return 2.5;
    case 'huge':
      return 1e308;
    case 'max-u64':
      return `${RAW}18446744073709551615`;
    case 'past-safe-integer':
      return `${RAW}9007199254740993`;
    case 'nan':
      return `${RAW}NaN`;
    case 'infinity':
      return `${RAW}-Infinity`;
    case 'empty-string':
      return '';
    case 'unicode':
      return '\u0000é\u202e\ud83d\ude00\ud800x\uffff';
    case 'long-string':
      return 'x'.repeat(100_000);
    case 'empty-array':
      return [];
    case 'empty-object':
      return {};
    case 'deep-array':
      return `${RAW}${'['.repeat(5000)}${']'.repeat(5000)}`;
    case 'deep-object':
      return `${RAW}${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    case 'big-array':
      return Array.from({ length: 100_000 }, (_, i) => i);
    case 'number-string':
      return '12';
  }
}

type Slot = { parent: JsonValue[] | { [k: string]: JsonValue }; key: string | number } | undefined;

/** Every position in the document, root first (the root has no parent slot). */
function slots(doc: JsonValue): Slot[] {
  const out: Slot[] = [undefined];
  const walk = (v: JsonValue) => {
    if (Array.isArray(v))
      v.forEach((c, i) => {
        out.push({ parent: v, key: i });
        walk(c);
      });
    else if (v && typeof v === 'object')
      for (const [k, c] of Object.entries(v)) {
        out.push({ parent: v, key: k });
        walk(c);
      }
  };
  walk(doc);
  return out;
}

function get(doc: JsonValue, slot: Slot): JsonValue {
  return slot ? (slot.parent as Record<string | number, JsonValue>)[slot.key]! : doc;
}

/** Applies one mutation to a copy of `doc` and returns the text. */
export function applyJsonMutation(doc: JsonValue, m: JsonMutation): string {
  let root = structuredClone(doc);
  const all = slots(root);
  const slot = all[m.at % all.length];
  const set = (v: JsonValue) => {
    if (!slot) root = v;
    else (slot.parent as Record<string | number, JsonValue>)[slot.key] = v;
  };
  const current = get(root, slot);
  switch (m.op) {
    case 'replace':
      set(nasty(m.value));
      break;
    case 'scale':
      set(typeof current === 'number' ? current * m.factor : m.factor);
      break;
    case 'delete':
      if (!slot) root = null;
      else if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
      else delete slot.parent[slot.key];
      break;
    case 'duplicate-key':
      // A second entry with the same key: JSON.parse keeps the last one.
      if (slot && !Array.isArray(slot.parent)) slot.parent[`${DUP}${slot.key}`] = nasty(m.value);
      else set(nasty(m.value));
      break;
    case 'wrap':
      set(m.inArray ? [current] : { value: current });
      break;
    case 'rename':
      if (slot && !Array.isArray(slot.parent)) {
        delete slot.parent[slot.key];
        slot.parent[m.name] = current;
      } else set(m.name);
      break;
  }
  return JSON.stringify(root)
    .replace(/"\\u0001raw:([^"]*)"/g, (_, raw: string) => raw)
    .replace(/"\\u0001dup:/g, '"');
}

export const nastyValue = fc.constantFrom(...NASTY_VALUES);

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: nastyValue }), weight: 4 },
  {
    arbitrary: fc.record({
      op: fc.constant('scale' as const),
      at: fc.nat(),
      factor: fc.constantFrom(-1, 0, 2, 0.5, 1 + 2 ** -20, 2 ** 32, 2 ** 53, -(2 ** 31)),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('duplicate-key' as const), at: fc.nat(), value: nastyValue }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('wrap' as const), at: fc.nat(), inArray: fc.boolean() }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('rename' as const),
      at: fc.nat(),
      name: fc.constantFrom('__proto__', 'constructor', '', '__metadata__', 'toString', 'ü'),
    }),
    weight: 1,
  },
);

/** Byte-level mutation of a text or binary file (plain data, replayable). */
export interface ByteMutation {
  readonly flips: readonly (readonly [number, number])[];
  readonly truncateAt?: number | undefined;
  readonly insert?: readonly [number, string] | undefined;
}

export function byteMutation(size: number, hotEnd = size): fc.Arbitrary<ByteMutation> {
  const pos = fc.oneof(fc.nat({ max: Math.max(0, hotEnd - 1) }), fc.nat({ max: Math.max(0, size - 1) }));
  return fc.record(
    {
      flips: fc.array(fc.tuple(pos, fc.nat({ max: 255 })), { maxLength: 8 }),
      truncateAt: fc.option(pos, { nil: undefined }),
      insert: fc.option(fc.tuple(pos, fc.string({ maxLength: 16 })), { nil: undefined }),
    },
    { requiredKeys: ['flips'] },
  );
}

/** Applies a byte mutation to a copy of `bytes`. */
export function applyByteMutation(bytes: Uint8Array, m: ByteMutation): Uint8Array {
  let out = bytes.slice(0, m.truncateAt ?? bytes.length);
  for (const [at, b] of m.flips) if (at < out.length) out[at] = b;
  if (m.insert) {
    const [at, text] = m.insert;
    const ins = new TextEncoder().encode(text);
    const cut = Math.min(at, out.length);
    const grown = new Uint8Array(out.length + ins.length);
    grown.set(out.subarray(0, cut));
    grown.set(ins, cut);
    grown.set(out.subarray(cut), cut + ins.length);
    out = grown;
  }
  return out;
}
