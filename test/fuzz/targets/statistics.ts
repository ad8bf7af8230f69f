/**
 * JSONL problem sets and AIM activation statistics: real lines of the shipped problem set (and a
 * MATH and a generic line) with one field changed, bytes changed or a pathological line added; a
 * statistics file with one field changed. After parsing, what follows runs too: the normalised
 * AIM scale of every weight.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { type ProblemFormat, parseProblemSet } from '../../../src/core/eval/problem-set';
import { normalisedScale, parseActivationStats } from '../../../src/core/merge/activation-stats';
import { ContractViolation, checkContract, utf8 } from '../contract';
import {
  type ByteMutation,
  type JsonMutation,
  applyByteMutation,
  applyJsonMutation,
  byteMutation,
  jsonMutation,
} from '../json-mutation';
import type { FuzzTarget } from '../target';

let lines: string[] | undefined;
function baseLines(): string[] {
  lines ??= [
    ...readFileSync('public/data/arith-heldout.jsonl', 'utf8').split('\n').slice(0, 12),
    JSON.stringify({ problem: 'What is $1+1$?', solution: 'It is $\\boxed{2}$.', level: 'Level 1' }),
    JSON.stringify({ prompt: 'Say 7.', answer: 7, id: 'g1' }),
  ];
  return lines;
}

/** Lines crafted against regular expressions and splitters (long runs, many markers, stray \r). */
export const PATHOLOGICAL_LINES = [
  JSON.stringify({ question: 'q', answer: `${'#### '.repeat(20_000)}\nx` }),
  JSON.stringify({ question: 'q', answer: `####${' '.repeat(100_000)}x${' '.repeat(100_000)}\ny` }),
  JSON.stringify({ problem: 'p', solution: `${'\\boxed{'.repeat(20_000)}1` }),
  JSON.stringify({ problem: 'p', solution: `\\boxed{${'{'.repeat(50_000)}` }),
  JSON.stringify({ question: 'q', answer: 'x', level: `${'9'.repeat(100_000)}` }),
  '\r\n\r\n\r',
  `{"question": "${'\\u0000'.repeat(1000)}", "answer": "#### 1"}`,
];

export type ProblemSetInput = {
  readonly line: number;
  readonly change: { json: JsonMutation } | { bytes: ByteMutation } | { add: number };
  readonly format: ProblemFormat | 'auto';
  readonly reject: boolean;
};

export const problemSetTarget: FuzzTarget<ProblemSetInput> = {
  name: 'problem-set-jsonl',
  format: 'JSONL problem sets',
  sliceRuns: 800,
  arbitrary: fc.record({
    line: fc.nat(),
    change: fc.oneof(
      { arbitrary: fc.record({ json: jsonMutation }), weight: 4 },
      { arbitrary: fc.record({ bytes: byteMutation(2000) }), weight: 2 },
      { arbitrary: fc.record({ add: fc.nat() }), weight: 1 },
    ),
    format: fc.constantFrom('auto', 'auto', 'gsm8k', 'math', 'generic'),
    reject: fc.boolean(),
  }),
  async run(input) {
    const rows = [...baseLines()];
    const at = input.line % rows.length;
    const c = input.change;
    if ('json' in c) rows[at] = applyJsonMutation(JSON.parse(rows[at]!), c.json);
    else if ('add' in c) rows.splice(at, 0, PATHOLOGICAL_LINES[c.add % PATHOLOGICAL_LINES.length]!);
    const joined = rows.join('\n');
    const text = 'bytes' in c ? new TextDecoder().decode(applyByteMutation(utf8(joined), c.bytes)) : joined;
    return checkContract(
      () => {
        const set = parseProblemSet(text, 'set.jsonl', {
          format: input.format,
          onBadLine: input.reject ? 'reject' : 'skip',
        });
        if (set.problems.length + set.badLines.length > text.split('\n').length)
          throw new ContractViolation('more problems than lines');
        for (const p of set.problems)
          if (typeof p.question !== 'string' || typeof p.answer !== 'string')
            throw new ContractViolation(`problem ${p.id} is not text`);
      },
      { files: ['set.jsonl'], inputChars: text.length },
    );
  },
};

const STATS = {
  format: 'merge-lab-activation-stats',
  version: 1,
  model: 'demo-base',
  calibration: { set: 'arith-heldout', samples: 8, tokens: 400 },
  channels: {
    'model.layers.0.mlp.down_proj.weight': [0.5, 1, 2, 0],
    'model.layers.0.self_attn.q_proj.weight': [3, 1e-8, 7],
  },
};

export type StatsInput = { json: JsonMutation } | { bytes: ByteMutation };

export const activationStatsTarget: FuzzTarget<StatsInput> = {
  name: 'aim-activation-stats',
  format: 'AIM statistics',
  sliceRuns: 600,
  arbitrary: fc.oneof(
    { arbitrary: fc.record({ json: jsonMutation }), weight: 3 },
    { arbitrary: fc.record({ bytes: byteMutation(300) }), weight: 1 },
  ),
  async run(input) {
    const text =
      'json' in input
        ? applyJsonMutation(STATS, input.json)
        : new TextDecoder().decode(applyByteMutation(utf8(JSON.stringify(STATS)), input.bytes));
    return checkContract(
      () => {
        const stats = parseActivationStats(text, 'stats.json');
        for (const [name, channels] of Object.entries(stats.channels)) {
          const scale = normalisedScale(channels);
          if (!scale.every((s) => s >= 0 && s <= 1)) throw new ContractViolation(`${name}: scale outside [0, 1]`);
        }
      },
      { files: ['stats.json'], inputChars: text.length },
    );
  },
};
