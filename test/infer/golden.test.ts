/**
 * The demo family against the PyTorch goldens shipped with it (test/golden/<model>.golden.*):
 * logits of the generated graph at every position within 1e-3 (f32), and identical greedy
 * continuations through the whole engine (chat template, tokenizer, KV-cache decoding).
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { ChatModel } from '../../src/infer/engine';
import { CausalLM } from '../../src/infer/model';
import { nodeRuntimeAdapter } from '../../src/node/ort-adapter';
import { FsModelFolder } from '../../src/node/fs-folder';
import { maxAbsDiff } from './reference';

interface GoldenPrompt {
  question: string;
  prompt_text: string;
  prompt_ids: number[];
  continuation_ids: number[];
  logits_tensor: string;
}
interface Golden {
  eos_token_id: number;
  prompts: GoldenPrompt[];
}

/** Reads one tensor of a golden safetensors file (F32 or I32; the core reader merges floats only). */
function goldenTensor(bytes: Uint8Array, name: string): { shape: number[]; data: Float32Array | Int32Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const t = header[name];
  const [b, e] = t.data_offsets as [number, number];
  const raw = bytes.slice(8 + n + b, 8 + n + e);
  return { shape: t.shape, data: t.dtype === 'I32' ? new Int32Array(raw.buffer) : new Float32Array(raw.buffer) };
}

const MODELS = ['demo-base', 'demo-quick', 'demo-slow'];
const adapter = nodeRuntimeAdapter();

describe.each(MODELS)('%s vs PyTorch goldens', (name) => {
  const dir = `public/models/${name}`;
  const present = existsSync(`test/golden/${name}.golden.json`) && existsSync(`${dir}/config.json`);
  const golden: Golden | undefined = present
    ? JSON.parse(readFileSync(`test/golden/${name}.golden.json`, 'utf8'))
    : undefined;
  const goldenBytes = present ? new Uint8Array(readFileSync(`test/golden/${name}.golden.safetensors`)) : undefined;
  let lm: CausalLM;
  let chat: ChatModel;
  const folder = new FsModelFolder(dir);
  beforeAll(async () => {
    if (!present) return;
    lm = await CausalLM.fromCheckpoint(await Checkpoint.open(folder), { ep: 'wasm', allLogits: true, adapter });
    chat = await ChatModel.load(new FsModelFolder(dir), { ep: 'wasm', adapter });
  });
  afterAll(async () => {
    await lm?.release();
    await folder.close();
    await chat?.release();
  });

  it('golden files exist', () =>
    expect(present, `test/golden/${name}.golden.json and ${dir}/ are shipped by the demo-family tool`).toBe(true));

  it.each(golden?.prompts.map((p, i) => [i, p] as const) ?? [])(
    'prompt %i: logits at every position within 1e-3',
    async (_i, p) => {
      const seq = [...p.prompt_ids, ...p.continuation_ids];
      const ref = goldenTensor(goldenBytes!, p.logits_tensor);
      const out = await lm.forward(seq);
      expect([out.rows, lm.spec.vocab]).toEqual(ref.shape);
      const diff = maxAbsDiff(out.logits, ref.data);
      console.log(`${name} prompt ${_i}: ${seq.length} positions, max abs diff vs PyTorch ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-3);
    },
  );

  it.each(golden?.prompts.map((p, i) => [i, p] as const) ?? [])(
    'prompt %i: same prompt ids and greedy continuation',
    async (_i, p) => {
      const eos = golden!.eos_token_id;
      const endsWithEos = p.continuation_ids[p.continuation_ids.length - 1] === eos;
      // As in transformers, max_new_tokens counts the EOS token too.
      const r = await chat.ask(p.question, { maxNewTokens: p.continuation_ids.length });
      expect(r.promptText).toBe(p.prompt_text);
      expect(r.promptIds).toEqual(p.prompt_ids);
      expect(r.finishReason).toBe(endsWithEos ? 'eos' : 'max-new-tokens');
      expect([...r.ids, ...(r.finishReason === 'eos' ? [eos] : [])]).toEqual(p.continuation_ids);
    },
  );
});
