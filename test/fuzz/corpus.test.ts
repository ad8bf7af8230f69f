/** Replays every saved failing fuzz input (test/fuzz/corpus/): each must now meet the contract. */
import { describe, expect, it } from 'vitest';
import { loadCorpus } from './corpus';
import { targetNamed } from './targets';

const corpus = loadCorpus();

describe('fuzz corpus (inputs that once broke the contract)', () => {
  it('holds replayable entries', () => {
    expect(corpus.length).toBeGreaterThan(0);
  });
  for (const { file, entry } of corpus)
    it(`${file}: ${entry.failure}`, { timeout: 30_000 }, async () => {
      await targetNamed(entry.target).run(entry.input as never);
    });
});
