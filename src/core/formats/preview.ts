/**
 * A short rendering of an untrusted value for an error message: bounded in length and never
 * recursing into nested data (JSON.stringify or `${}` of a 5,000-deep list overflows the stack).
 */
const MAX_CHARS = 80;

const clip = (s: string): string => (s.length > MAX_CHARS ? `${s.slice(0, MAX_CHARS)}…` : s);

export function preview(v: unknown): string {
  if (Array.isArray(v))
    return v.length <= 16 && v.every((x) => x === null || typeof x !== 'object')
      ? clip(JSON.stringify(v))
      : `a list of ${v.length}`;
  if (v && typeof v === 'object') return 'an object';
  if (typeof v === 'string') return clip(JSON.stringify(v));
  return String(v);
}
