/**
 * Page for test/infer/browser.test.ts: the real inference worker (src/workers/infer.worker.ts) in
 * Chromium, loading a demo model over fetch, on the EP named in the query string (?ep=wasm|webgpu|auto).
 * The result lands on `window.__inferResult` (or `__inferError`).
 */
import { InferClient } from '../../../src/workers/infer-client';

const params = new URLSearchParams(location.search);
const model = params.get('model') ?? 'demo-base';
const ep = (params.get('ep') ?? 'auto') as 'auto' | 'wasm' | 'webgpu';
const prompt = params.get('prompt') ?? 'Tom has 47 coins. #1 He finds 42. How many coins does he have now?';
const w = window as unknown as Record<string, unknown>;

async function main() {
  const names = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];
  const files: Record<string, Blob> = {};
  for (const n of names) {
    const r = await fetch(`/models/${model}/${n}`);
    if (r.ok) files[n] = await r.blob();
  }
  const client = InferClient.spawn();
  const loaded = await client.load({ name: model, files, ep, threads: 1, wasmPaths: '/node_modules/onnxruntime-web/dist/' });
  const streamed: string[] = [];
  const r = await client.ask(prompt, { maxNewTokens: Number(params.get('n') ?? 16), onToken: (t) => void streamed.push(t.text) });
  w.__inferResult = { ep: loaded.ep, ids: r.ids, text: r.text, streamed: streamed.join(''), timings: r.timings };
  document.getElementById('out')!.textContent = JSON.stringify(w.__inferResult, null, 1);
  client.dispose();
}
main().catch((e) => {
  w.__inferError = String(e?.stack ?? e);
  document.getElementById('out')!.textContent = String(w.__inferError);
});
