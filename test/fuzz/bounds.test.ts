/**
 * The bounds that fuzzing relies on, checked directly: chat templates render within their time and
 * size bounds or fail naming tokenizer_config.json; the linear-time rewrites of two quadratic
 * matchers give the old answers; an overlap hidden behind an empty tensor is found.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../../src/core/errors';
import { lastBoxed } from '../../src/core/eval/extract';
import { gsm8kFinalAnswer } from '../../src/core/eval/problem-set';
import { SafetensorsFile } from '../../src/core/formats/safetensors';
import { MemoryByteSource } from '../../src/core/io/byte-source';
import { CHAT_TEMPLATE_BOUNDS, parseChatTemplate, renderChatTemplate } from '../../src/infer/chat-template';
import { InferError } from '../../src/infer/errors';
import { encodeFile } from './targets/safetensors';

const FILE = 'demo-base/tokenizer_config.json';
const CONTEXT = { messages: [{ role: 'user', content: 'hi' }], add_generation_prompt: true, eos_token: '</s>' };

function render(template: string): { error?: InferError; output?: string; ms: number } {
  const started = performance.now();
  try {
    const output = renderChatTemplate(parseChatTemplate(template, FILE), CONTEXT, FILE);
    return { output, ms: performance.now() - started };
  } catch (e) {
    if (!(e instanceof InferError)) throw e;
    return { error: e, ms: performance.now() - started };
  }
}

describe('chat templates are bounded', () => {
  it.each([
    ['a billion-item range', '{% for i in range(10**9) %}x{% endfor %}', 'beyond'],
    [
      'nested loops of a million iterations',
      '{% for i in range(1000) %}{% for j in range(1000) %}{{ i }}{% endfor %}{% endfor %}',
      '',
    ],
    [
      'a string doubled 40 times',
      "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
      'string',
    ],
    [
      'a list doubled 40 times',
      '{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}',
      'list',
    ],
    ['unbounded recursion', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}', 'deeper'],
    ['a 100-million-space indent', "{{ 'a\\nb' | indent(100000000) }}", 'beyond'],
    ['raise_exception', "{{ raise_exception('no system role') }}", 'no system role'],
  ])('%s ends in an InferError naming tokenizer_config.json', (_, template, words) => {
    const r = render(template);
    expect(r.error?.code).toBe('chat-template');
    expect(r.error?.file).toBe(FILE);
    expect(r.error?.message).toContain(words);
    // The render deadline plus one loop of empty iterations, with room for a loaded machine.
    expect(r.ms).toBeLessThan(CHAT_TEMPLATE_BOUNDS.maxMillis + 3_000);
  });

  it('renders the demo template unchanged', () => {
    const demo =
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    expect(render(demo).output).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
  });

  it('a template that does not parse names the file', () => {
    expect(() => parseChatTemplate('{% for %}', FILE)).toThrow(
      expect.objectContaining({ code: 'chat-template', file: FILE }),
    );
  });
});

describe('linear-time matchers agree with the expressions they replace', () => {
  const alphabet = (chars: string[]) => fc.array(fc.constantFrom(...chars), { maxLength: 40 }).map((a) => a.join(''));

  it('gsm8kFinalAnswer = /####\\s*(.+)\\s*$/', () => {
    const old = (s: string) => /####\s*(.+)\s*$/.exec(s)?.[1]!.trim();
    fc.assert(
      fc.property(alphabet(['#', '#', '#', ' ', '\n', '\r', '\t', '\u2028', 'x', '5']), (s) => {
        expect(gsm8kFinalAnswer(s)).toBe(old(s));
      }),
      { seed: 22, numRuns: 20_000 },
    );
  });

  it('gsm8kFinalAnswer is fast on 20,000 markers', () => {
    const started = performance.now();
    expect(gsm8kFinalAnswer(`${'#### '.repeat(20_000)}\nx`)).toBe('x');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('lastBoxed = scanning forward from every \\boxed{', () => {
    const old = (text: string) => {
      let found: string | undefined;
      for (const m of text.matchAll(/\\(?:boxed|fbox)\s*\{/g)) {
        let depth = 1;
        let i = m.index + m[0].length;
        const start = i;
        for (; i < text.length && depth > 0; i++) depth += text[i] === '{' ? 1 : text[i] === '}' ? -1 : 0;
        if (depth === 0) found = text.slice(start, i - 1);
      }
      return found;
    };
    fc.assert(
      fc.property(alphabet(['\\boxed', '\\fbox', '{', '}', ' ', 'x', '\\boxed{']), (s) => {
        expect(lastBoxed(s)).toBe(old(s));
      }),
      { seed: 22, numRuns: 20_000 },
    );
  });
});

describe('safetensors overlaps', () => {
  it('an empty tensor between two overlapping ones does not hide the overlap', async () => {
    const header = {
      a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      b: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
      c: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
    };
    const bytes = encodeFile(JSON.stringify(header), 16, 'true');
    const err = await SafetensorsFile.open(new MemoryByteSource(bytes, 'model.safetensors')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect(err).toMatchObject({ code: 'offsets-overlap', tensor: 'c', file: 'model.safetensors' });
  });
});
