/** The evaluation runner's bookkeeping, with a scripted stand-in for the model (the runner is under test). */
import { describe, expect, it } from 'vitest';
import { ProblemSetError, parseProblemSet } from '../../src/core/eval/problem-set';
import { formatTable, runsToCsv, runsToJson, tableRows } from '../../src/core/eval/report';
import { type ChatMessage, type CompletionModel, evaluate } from '../../src/core/eval/run';
import { sweepRecipes } from '../../src/core/eval/sweep';
import { AbortError, RecipeError } from '../../src/core/errors';
import { parseRecipe } from '../../src/core/recipe/parse';

const set = parseProblemSet(
  [
    '{"question":"Q: 2+3","answer":"#### 5","level":1}',
    '{"question":"Q: 7-4","answer":"#### 3","level":1}',
    '{"question":"Q: 9+9","answer":"#### 18","level":2}',
    '{"question":"Q: 1+1","answer":"#### 2","level":2}',
  ].join('\n'),
  'toy.jsonl',
);

function scripted(name: string, answer: (q: string) => string): CompletionModel & { seen: ChatMessage[][] } {
  const seen: ChatMessage[][] = [];
  return {
    name,
    seen,
    async complete(messages, opts) {
      seen.push([...messages]);
      const text = answer(messages[messages.length - 1]!.content);
      opts.onText?.(text);
      const tokens = text.split(' ').length;
      return {
        text: text.split(' ').slice(0, opts.maxNewTokens).join(' '),
        tokens: Math.min(tokens, opts.maxNewTokens),
        hitLimit: tokens >= opts.maxNewTokens,
      };
    },
  };
}

const solve = (q: string) => String(eval(q.replace(/^.*Q: /, '')));

describe('evaluate', () => {
  it('scores every response, keeps them, and computes per-model metrics', async () => {
    const quick = scripted('quick', (q) => `The answer is ${q.includes('9+9') ? 17 : solve(q)}.`);
    const slow = scripted(
      'slow',
      (q) => `${solve(q)} ok. So the answer is ${solve(q)}. Wait, let me double-check: yes, the answer is ${solve(q)}.`,
    );
    const run = await evaluate(
      [{ model: quick, prompt: { template: 'Solve. {question}', fewShot: 1 } }, { model: slow }],
      set,
      { maxNewTokens: 100 },
    );
    expect(run.set).toEqual({ name: 'toy.jsonl', problems: 3, fewShotHeldOut: 1 });
    expect(quick.seen[0]).toEqual([
      { role: 'user', content: 'Solve. Q: 2+3' },
      { role: 'assistant', content: 'The answer is 5.' },
      { role: 'user', content: 'Solve. Q: 7-4' },
    ]);
    expect(slow.seen[0]).toEqual([{ role: 'user', content: 'Q: 7-4' }]);
    const [q, s] = run.models;
    expect(q!.metrics.accuracy).toBeCloseTo(2 / 3);
    expect(s!.metrics.accuracy).toBe(1);
    expect(s!.metrics.reflectiveRate).toBe(1);
    expect(q!.responses[1]).toMatchObject({
      problemId: 'toy.jsonl#3',
      level: 2,
      extracted: '17',
      rule: 'answer-is',
      correct: false,
    });
    const rows = tableRows([run], 'slow');
    expect(rows[0]!.lengthReduction).toBeCloseTo(1 - q!.metrics.meanTokens / s!.metrics.meanTokens, 12);
    expect(rows[1]!.lengthReduction).toBeUndefined();
    expect(formatTable(rows)).toMatch(/quick\s+66\.7\s+4\.0\s+−75\.0%/);
    const csv = runsToCsv([run]);
    expect(csv.split('\n')[0]).toBe('set,model,problem_id,level,correct,extracted,rule,tokens,hit_limit,response');
    expect(csv).toContain('"3 ok. So the answer is 3. Wait, let me double-check: yes, the answer is 3."');
    expect(JSON.parse(runsToJson([run])).runs[0].models[1].responses.length).toBe(3);
  });

  it('spreads a limited run evenly over the set (sets are often sorted by level)', async () => {
    const m = scripted('m', () => 'The answer is 1.');
    const run = await evaluate([{ model: m }], set, { maxNewTokens: 5, limit: 2 });
    expect(run.models[0]!.responses.map((r) => r.problemId)).toEqual(['toy.jsonl#1', 'toy.jsonl#3']);
  });

  it('counts responses that hit max_new_tokens', async () => {
    const m = scripted('long', () => 'a b c d e f g h');
    const run = await evaluate([{ model: m }], set, { maxNewTokens: 5, limit: 2 });
    expect(run.models[0]!.metrics.hitLimit).toBe(2);
    expect(run.models[0]!.metrics.meanTokens).toBe(5);
  });

  it('cancels between problems', async () => {
    const ac = new AbortController();
    const m = scripted('m', () => 'The answer is 1.');
    await expect(
      evaluate([{ model: m }], set, {
        maxNewTokens: 5,
        signal: ac.signal,
        onProgress: (p) => p.done === 2 && ac.abort(),
      }),
    ).rejects.toBeInstanceOf(AbortError);
    expect(m.seen.length).toBe(2);
  });

  it('refuses a set with nothing left to evaluate, naming it', async () => {
    const m = scripted('m', () => 'The answer is 1.');
    const err = await evaluate([{ model: m, prompt: { template: '{question}', fewShot: 4 } }], set, {
      maxNewTokens: 5,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ProblemSetError);
    expect(err).toMatchObject({ code: 'no-problems', file: 'toy.jsonl' });
    expect(err.message).toMatch(/toy\.jsonl: no problems left to evaluate after 4 few-shot examples/);
    expect(m.seen.length).toBe(0);
  });
});

describe('sweeps', () => {
  const { recipe } = parseRecipe(
    'merge_method: task_arithmetic\nbase_model: quick\nmodels: [{model: quick}, {model: slow, parameters: {weight: 0.7}}]',
  );
  it('sets the swept parameter on every non-base model', () => {
    const pts = sweepRecipes(recipe, 'weight', [0, 0.5, 1]);
    expect(pts.map((p) => p.recipe.models[1]!.parameters.weight)).toEqual([0, 0.5, 1]);
    expect(pts[0]!.recipe.models[0]!.parameters.weight).toBeUndefined();
  });
  it('validates swept values like a recipe', () => {
    const ties = parseRecipe(
      'merge_method: ties\nbase_model: quick\nmodels: [{model: slow, parameters: {weight: 1, density: 0.2}}]',
    ).recipe;
    expect(() => sweepRecipes(ties, 'density', [1.5])).toThrow(RecipeError);
    expect(() => sweepRecipes(recipe, 'nonsense', [1])).toThrow(/cannot sweep/);
  });
});
