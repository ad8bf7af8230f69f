/**
 * A real model that never emits EOS, for the fault tests: a copy of a demo model whose lm_head row
 * for the EOS token is a copy of token 0's row. EOS then always scores exactly what token 0 scores,
 * and greedy decoding takes the lowest id among equal scores (src/infer/sampling.ts), so EOS can
 * never be chosen; everything else about the model is unchanged.
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile } from '../../src/core/formats/safetensors';
import { FileByteSource } from '../../src/node/fs-folder';
import { encodeSafetensors, type RawTensor } from '../helpers/checkpoints';

export async function writeNeverEosModel(from: string, to: string): Promise<{ eos: number }> {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) if (f !== 'model.safetensors') copyFileSync(path.join(from, f), path.join(to, f));
  const config = JSON.parse(readFileSync(path.join(from, 'config.json'), 'utf8')) as {
    eos_token_id: number;
    tie_word_embeddings: boolean;
  };
  if (config.tie_word_embeddings) throw new Error(`${from}: a tied lm_head would change the EOS embedding too`);
  const eos = config.eos_token_id;
  const source = await FileByteSource.open(path.join(from, 'model.safetensors'));
  const st = await SafetensorsFile.open(source);
  const tensors: RawTensor[] = [];
  for (const [name, t] of st.tensors) {
    const bytes = (await st.readRange(name)).slice();
    if (name === 'lm_head.weight') {
      const rowBytes = t.byteLength / t.shape[0]!;
      bytes.copyWithin(eos * rowBytes, 0, rowBytes);
    }
    tensors.push({ name, dtype: t.dtype, shape: [...t.shape], bytes });
  }
  await source.close();
  writeFileSync(path.join(to, 'model.safetensors'), encodeSafetensors(tensors, { ...st.metadata }));
  return { eos };
}
