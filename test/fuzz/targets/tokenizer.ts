/**
 * Tokenizer files and chat templates: the demo's tokenizer.json, tokenizer_config.json and
 * generation_config.json with one field changed, bytes changed or the file missing, loaded through
 * @huggingface/tokenizers and used (encode, decode, chat template); and generated chat templates
 * (huge ranges, nested loops, doubling strings and lists, recursion, wide indents, errors), which
 * must render within the bounds of src/infer/chat-template.ts or fail naming tokenizer_config.json.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ChatTokenizer } from '../../../src/infer/tokenizer';
import { CHAT_TEMPLATE_BOUNDS } from '../../../src/infer/chat-template';
import { ContractViolation, RecordingFolder, checkContract, utf8 } from '../contract';
import {
  type ByteMutation,
  type JsonMutation,
  applyByteMutation,
  applyJsonMutation,
  byteMutation,
  jsonMutation,
} from '../json-mutation';
import type { FuzzTarget } from '../target';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'] as const;
const DEMO = 'public/models/demo-base';

let demoFiles: Map<string, Uint8Array> | undefined;
let demoConfig: Record<string, unknown> | undefined;
function demo(): { files: Map<string, Uint8Array>; config: Record<string, unknown> } {
  demoFiles ??= new Map(TOKENIZER_FILES.map((f) => [f, new Uint8Array(readFileSync(`${DEMO}/${f}`))]));
  demoConfig ??= JSON.parse(readFileSync(`${DEMO}/config.json`, 'utf8')) as Record<string, unknown>;
  return { files: demoFiles, config: demoConfig };
}

/** Loads the tokenizer from `files` and uses it as generation does. */
async function useTokenizer(folder: RecordingFolder, config: Record<string, unknown>): Promise<void> {
  const tok = await ChatTokenizer.load(folder, config);
  const prompt = tok.applyChatTemplate([{ role: 'user', content: 'Tom has 47 coins. He finds 42. How many?' }]);
  if (prompt.length > CHAT_TEMPLATE_BOUNDS.maxChars) throw new ContractViolation(`prompt of ${prompt.length} chars`);
  const ids = tok.encode(prompt);
  tok.decode(ids);
  tok.decode(ids, false);
}

export interface TokenizerInput {
  readonly file: (typeof TOKENIZER_FILES)[number];
  readonly change: { json: JsonMutation } | { bytes: ByteMutation } | null;
}

export const tokenizerTarget: FuzzTarget<TokenizerInput> = {
  name: 'tokenizer-files',
  format: 'tokenizer.json / tokenizer_config.json',
  sliceRuns: 400,
  arbitrary: fc.record({
    file: fc.constantFrom(...TOKENIZER_FILES),
    change: fc.oneof(
      { arbitrary: fc.record({ json: jsonMutation }), weight: 5 },
      { arbitrary: fc.record({ bytes: byteMutation(20_000, 2_000) }), weight: 2 },
      { arbitrary: fc.constant(null), weight: 1 },
    ),
  }),
  async run(input) {
    const { files: base, config } = demo();
    const files = new Map(base);
    const bytes = base.get(input.file)!;
    const c = input.change;
    if (c === null) files.delete(input.file);
    else if ('bytes' in c) files.set(input.file, applyByteMutation(bytes, c.bytes));
    else files.set(input.file, utf8(applyJsonMutation(JSON.parse(new TextDecoder().decode(bytes)), c.json)));
    const folder = new RecordingFolder('demo-base', files);
    return checkContract(() => useTokenizer(folder, config), { files: [...TOKENIZER_FILES] });
  },
};

/** Template fragments: `$` is where a nested fragment goes. */
export const TEMPLATE_PIECES = [
  "{{ '<|im_start|>' + messages[0]['content'] + '<|im_end|>' }}",
  '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}',
  '{% for i in range(3) %}$ {% endfor %}',
  '{% for i in range(100000) %}${% endfor %}',
  '{% for i in range(10**9) %}x{% endfor %}',
  '{% for i in range(1000) %}{% for j in range(1000) %}${% endfor %}{% endfor %}',
  "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
  '{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}',
  '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}',
  '{% macro g(n) %}{% if n > 0 %}{{ g(n - 1) }}{{ g(n - 1) }}{% endif %}x{% endmacro %}{{ g(30) }}',
  "{{ 'a\\nb' | indent(100000000) }}",
  '{{ messages | tojson(indent=100000000) }}',
  "{{ raise_exception('no system role') }}",
  '{{ messages | nosuchfilter }}',
  '{% for %}',
  '{{ messages[0][',
  '{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}',
  "{{ ('x' ~ eos_token) * 3 }}",
  '{{ 2 ** 1000 }}',
  '{{ range(-100000000, 100000000, 1) | length }}',
  "{{ strftime_now('%d %b %Y') }}",
  '{{ (messages | last).content | upper }}',
  "{% set x = 'y' %}{{ x | replace('y', x ~ x ~ x) | replace('y', 'yyyyyyyyyy') }}",
  '$$',
] as const;

export type ChatTemplateInput = readonly number[];

function buildTemplate(picks: ChatTemplateInput): string {
  let t = '$';
  for (const p of picks) t = t.replace('$', TEMPLATE_PIECES[p % TEMPLATE_PIECES.length]!);
  return t.replaceAll('$', '');
}

export const chatTemplateTarget: FuzzTarget<ChatTemplateInput> = {
  name: 'chat-template',
  format: 'chat template (Jinja)',
  sliceRuns: 250,
  arbitrary: fc.array(fc.nat({ max: TEMPLATE_PIECES.length - 1 }), { minLength: 1, maxLength: 4 }),
  async run(picks) {
    const { files: base, config } = demo();
    const tc = JSON.parse(new TextDecoder().decode(base.get('tokenizer_config.json')!)) as Record<string, unknown>;
    const files = new Map(base).set(
      'tokenizer_config.json',
      utf8(JSON.stringify({ ...tc, chat_template: buildTemplate(picks) })),
    );
    const folder = new RecordingFolder('demo-base', files);
    return checkContract(() => useTokenizer(folder, config), {
      files: ['tokenizer_config.json'],
      timeBoundMs: CHAT_TEMPLATE_BOUNDS.maxMillis + 3_000,
    });
  },
};
