// Parity check: the lab's JS tokenizer (@huggingface/tokenizers 0.2.0) and chat template renderer
// (@huggingface/jinja) against the Python tokenizer (tokenizer.py).
//
//   node tools/demo-models/check_tokenizer.mjs <node_modules dir> <tokenizer dir> <tok_expect.json>
//   e.g. node tools/demo-models/check_tokenizer.mjs /tmp/tk/node_modules public/models/demo-base /tmp/demo-models-work/tok_expect.json
//
// <node_modules dir> must contain @huggingface/tokenizers@0.2.0 and @huggingface/jinja
// (cd /tmp/tk && npm i @huggingface/tokenizers@0.2.0 @huggingface/jinja).
// tok_expect.json is written by `demo_models.py prepare`: every held-out prompt (chat-templated),
// an S2 and an S1 response for each, a fact list, and a few arbitrary texts, with Python's ids.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [nm, tokDir, expPath] = process.argv.slice(2);
if (!nm || !tokDir || !expPath) {
  console.error('usage: node check_tokenizer.mjs <node_modules dir> <tokenizer dir> <tok_expect.json>');
  process.exit(2);
}
const imp = (pkg, file) => import(pathToFileURL(path.join(nm, pkg, file)).href);
const { Tokenizer } = await imp('@huggingface/tokenizers', 'dist/tokenizers.mjs');
const jinjaPkg = JSON.parse(fs.readFileSync(path.join(nm, '@huggingface/jinja/package.json'), 'utf8'));
const jinjaEntry =
  jinjaPkg.exports?.['.']?.import?.default ?? jinjaPkg.exports?.['.']?.import ?? jinjaPkg.module ?? jinjaPkg.main;
const { Template } = await imp('@huggingface/jinja', typeof jinjaEntry === 'string' ? jinjaEntry : 'dist/index.js');

const tj = JSON.parse(fs.readFileSync(path.join(tokDir, 'tokenizer.json'), 'utf8'));
const tc = JSON.parse(fs.readFileSync(path.join(tokDir, 'tokenizer_config.json'), 'utf8'));
const exp = JSON.parse(fs.readFileSync(expPath, 'utf8'));
const tok = new Tokenizer(tj, tc);

let bad = 0;
for (const c of exp.cases) {
  const ids = Array.from(tok.encode(c.text).ids);
  if (JSON.stringify(ids) !== JSON.stringify(c.ids)) {
    if (bad++ < 5)
      console.error('ID MISMATCH', JSON.stringify(c.text), '\n js', ids.join(','), '\n py', c.ids.join(','));
  }
  const back = ids.length ? tok.decode(ids, { skip_special_tokens: false }) : '';
  if (back !== c.text) {
    if (bad++ < 5) console.error('ROUND TRIP MISMATCH', JSON.stringify(c.text), '->', JSON.stringify(back));
  }
}
const tpl = new Template(tc.chat_template);
exp.chat_template_cases.forEach((q, i) => {
  const r = tpl.render({
    messages: [{ role: 'user', content: q }],
    add_generation_prompt: true,
    bos_token: '',
    eos_token: tc.eos_token,
  });
  if (r !== exp.chat_template_expected[i]) {
    if (bad++ < 5) console.error('TEMPLATE MISMATCH', JSON.stringify(r), JSON.stringify(exp.chat_template_expected[i]));
  }
});
console.log(
  `checked ${exp.cases.length} texts and ${exp.chat_template_cases.length} chat-template renders: ${bad} mismatches`,
);
process.exit(bad ? 1 : 0);
