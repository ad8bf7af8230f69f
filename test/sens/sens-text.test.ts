// The page's choice of calibration text (src/ui/state/sens-text.ts): System 1 defaults to System 2's
// responses when an evaluation has them, else to the reference solutions with a note; the file
// name and cache key include the text; an imported file without responses is refused, naming it;
// a recipe with a sens block names the models still without statistics.
import { describe, expect, it } from 'vitest';
import type { EvalRun } from '../../src/core/eval/run';
import type { Recipe } from '../../src/core/recipe/types';
import { CalibrationTextError } from '../../src/core/sens/calibration-text';
import {
  REFERENCE_TEXT,
  compareSource,
  defaultText,
  importedSource,
  modelsWithoutStats,
  sensFileName,
  textFromValue,
  textKey,
  textValue,
} from '../../src/ui/state/sens-text';

const response = (problemId: string, text: string) => ({ problemId, text, tokens: 3, hitLimit: false });
const run = {
  set: { name: 'arith-heldout', problems: 2, fewShotHeldOut: 0 },
  maxNewTokens: 64,
  ms: 1,
  models: [
    { name: 'demo-quick', responses: [] },
    { name: 'demo-slow', responses: [response('arith-heldout#1', 'long, wait, 89')] },
  ],
} as unknown as EvalRun;
const recipe = {
  mergeMethod: 'sens_merging',
  baseModel: 'demo-quick',
  models: [{ model: 'demo-slow', parameters: {} }],
  parameters: {},
  sens: { statistics: { 'demo-slow': 'slow.json' } },
} as unknown as Recipe;

describe('calibration text in the page', () => {
  it('defaults System 1 to System 2 responses when an evaluation has them, else the reference with a note', () => {
    const source = compareSource(run, 'arith-heldout')!;
    expect(source.models).toEqual(['demo-slow']);
    expect(compareSource(run, 'other-set')).toBeUndefined();
    expect(defaultText('demo-quick', recipe, [source])).toEqual({
      text: { kind: 'responses', source, model: 'demo-slow' },
    });
    expect(defaultText('demo-slow', recipe, [source])).toEqual({ text: REFERENCE_TEXT });
    const fallback = defaultText('demo-quick', recipe, []);
    expect(fallback.text).toEqual(REFERENCE_TEXT);
    expect(fallback.note).toMatch(/reference solutions: no evaluation with demo-slow's responses/);
    const t = defaultText('demo-quick', recipe, [source]).text;
    expect(textFromValue(textValue(t), [source])).toEqual(t);
    expect(textFromValue(textValue(t), [])).toEqual(REFERENCE_TEXT);
  });

  it('names and keys a calibration by its text', () => {
    const source = compareSource(run, 'arith-heldout')!;
    const t = { kind: 'responses', source, model: 'demo-slow' } as const;
    expect(sensFileName('demo-quick', 'arith-heldout', 'long')).toBe('demo-quick.arith-heldout.long.sens-stats.json');
    expect(sensFileName('demo-quick', 'arith-heldout', 'long', t)).toBe(
      'demo-quick.arith-heldout.long.demo-slow-responses.sens-stats.json',
    );
    expect(textKey(t)).not.toBe(textKey(REFERENCE_TEXT));
    expect(textKey(t)).not.toBe(textKey({ ...t, source: { ...source, json: '{}' } }));
  });

  it('refuses an imported file without responses, naming it', () => {
    expect(importedSource('eval.json', JSON.stringify({ runs: [run] })).models).toEqual(['demo-slow']);
    for (const text of ['{"format":"merge-lab-sens-stats"}', 'not json']) {
      const err = (() => {
        try {
          importedSource('x.json', text);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CalibrationTextError);
      expect((err as Error).message).toMatch(/^x\.json: /);
    }
  });

  it('names the models of a sens recipe without statistics', () => {
    expect(modelsWithoutStats(recipe, () => true)).toEqual(['demo-quick']);
    expect(modelsWithoutStats(recipe, () => false)).toEqual(['demo-quick', 'demo-slow']);
    const full = { ...recipe, sens: { statistics: { 'demo-slow': 's', 'demo-quick': 'q' } } } as unknown as Recipe;
    expect(modelsWithoutStats(full, () => true)).toEqual([]);
    const plain = { ...recipe, mergeMethod: 'task_arithmetic', sens: undefined } as unknown as Recipe;
    expect(modelsWithoutStats(plain, () => false)).toEqual([]);
  });
});
