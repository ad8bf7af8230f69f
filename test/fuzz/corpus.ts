/**
 * The regression corpus: every input that ever broke the contract, saved as
 * test/fuzz/corpus/<target>-<hash>.json ({target, seed, failure, input}) and replayed by
 * corpus.test.ts. Inputs are plain JSON (see FuzzTarget), so a file replays the exact case.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export const CORPUS_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'corpus');

export interface CorpusEntry {
  readonly target: string;
  /** The campaign seed that found it (absent for hand-written entries). */
  readonly seed?: number;
  /** What went wrong before the fix, in words. */
  readonly failure: string;
  readonly input: unknown;
}

export function saveCorpusEntry(entry: CorpusEntry): string {
  mkdirSync(CORPUS_DIR, { recursive: true });
  const text = `${JSON.stringify(entry, null, 1)}\n`;
  const hash = createHash('sha256').update(JSON.stringify(entry.input)).digest('hex').slice(0, 12);
  const file = path.join(CORPUS_DIR, `${entry.target}-${hash}.json`);
  writeFileSync(file, text);
  return file;
}

export function loadCorpus(): { file: string; entry: CorpusEntry }[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, entry: JSON.parse(readFileSync(path.join(CORPUS_DIR, f), 'utf8')) as CorpusEntry }));
}
