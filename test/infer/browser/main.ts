/**
 * Page for test/infer/browser.test.ts: the evaluation worker the app uses
 * (src/workers/eval.worker.ts through eval-client.ts) in Chromium, loading a demo model over
 * fetch on the EP named in the query string (?ep=wasm|webgpu|auto) and evaluating it on one
 * problem, then loading a model without its tokenizer (the error must arrive as a LabError). The
 * result lands on `window.__evalResult` (or `__evalError`).
 */
import { LabError } from '../../../src/core/errors';
import { EvalClient } from '../../../src/workers/eval-client';

const params = new URLSearchParams(location.search);
const model = params.get('model') ?? 'demo-base';
const ep = (params.get('ep') ?? 'auto') as 'auto' | 'wasm' | 'webgpu';
const question = params.get('prompt') ?? 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';
const w = window as unknown as Record<string, unknown>;

async function main() {
  const names = [
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
    'generation_config.json',
  ];
  const files = new Map<string, Blob>();
  for (const n of names) {
    const r = await fetch(`/models/${model}/${n}`);
    if (r.ok) files.set(n, await r.blob());
  }
  const client = EvalClient.spawn();
  const loaded = await client.load(model, files, ep);
  let streamed = '';
  const run = await client.evaluate(
    {
      models: [{ name: model }],
      setText: JSON.stringify({ question, answer: '#### 89' }),
      setName: 'one.jsonl',
      maxNewTokens: Number(params.get('n') ?? 16),
    },
    { onText: (_m, _p, text) => void (streamed = text) },
  );
  const response = run.models[0]!.responses[0]!;
  // A lab error from the worker keeps its class, code and file across the real Worker boundary.
  const noTokenizer = new Map([...files].filter(([n]) => n !== 'tokenizer.json'));
  const e = await client.load('no-tokenizer', noTokenizer, 'wasm').then(
    () => undefined,
    (err: unknown) => err,
  );
  const error =
    e instanceof LabError ? { lab: true, name: e.name, code: e.code, file: e.file } : { lab: false, text: String(e) };
  w.__evalResult = { ep: loaded, text: response.text, tokens: response.tokens, streamed, error };
  document.getElementById('out')!.textContent = JSON.stringify(w.__evalResult, null, 1);
  client.dispose();
}
/**
 * ?batch=B: the model loaded twice on the EP, once for batch 1 and once with `batchSize` B, answers
 * `problems` problems of the demo set; both runs' responses land on `window.__batchResult`.
 */
async function batchMain(batch: number) {
  const files = new Map<string, Blob>();
  for (const n of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
    const r = await fetch(`/models/${model}/${n}`);
    if (r.ok) files.set(n, await r.blob());
  }
  const lines = (await (await fetch('/data/arith-heldout.jsonl')).text()).trim().split('\n');
  const count = Number(params.get('problems') ?? 6);
  const setText = Array.from({ length: count }, (_, i) => lines[Math.floor((i * lines.length) / count)]).join('\n');
  const client = EvalClient.spawn();
  const one = await client.load(`${model}-1`, files, ep);
  const many = await client.load(`${model}-${batch}`, files, ep, { batchSize: batch });
  const answer = async (name: string, b: number) => {
    let streaming = 0; // most responses streaming at once
    const live = new Set<string>();
    const run = await client.evaluate(
      { models: [{ name }], setText, setName: 'set.jsonl', maxNewTokens: Number(params.get('n') ?? 16), batch: b },
      {
        onText: (_m, problemId) => {
          live.add(problemId);
          streaming = Math.max(streaming, live.size);
        },
        onResponse: (_m, r) => void live.delete(r.problemId),
      },
    );
    return { texts: run.models[0]!.responses.map((r) => r.text), streaming };
  };
  w.__batchResult = {
    ep: [one, many],
    one: await answer(`${model}-1`, 1),
    many: await answer(`${model}-${batch}`, batch),
  };
  document.getElementById('out')!.textContent = JSON.stringify(w.__batchResult, null, 1);
  client.dispose();
}

const batchParam = params.get('batch');
(batchParam ? batchMain(Number(batchParam)) : main()).catch((e) => {
  w.__evalError = String(e?.stack ?? e);
  document.getElementById('out')!.textContent = String(w.__evalError);
});
