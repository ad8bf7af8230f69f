/**
 * The device check's Node side, bundled into one plain-JavaScript file by bench/device-pack.sh and
 * run step by step by bench/device-run.sh (each step in its own process, so each peak RSS is its own;
 * each step writes its JSON into DEVICE_RESULTS):
 *   adapter                                  the WebGPU adapter, or exit 3 with one line
 *   bandwidth [--mib 1024] [--reps 5]        WGSL copy kernel, upload and read-back GB/s
 *   generate --out DIR --seed N [--layers 24] [--vocab 151936] [--dtype bf16] [--shard-gb G]
 *   merge --data DIR --method ta|ties        one WebGPU merge of DIR/{base,ft1,ft2}
 *   decode --model DIR --weights f32|f16|q4 [--prompt-tokens 64] [--new-tokens 64] [--reps 2]
 *   report [--markdown FILE]                 the results as markdown tables
 */
import { parseArgs } from 'node:util';
import { fail, positive } from './common';

const [step, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: {
    mib: { type: 'string', default: '1024' },
    reps: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
    layers: { type: 'string', default: '24' },
    vocab: { type: 'string', default: '151936' },
    dtype: { type: 'string', default: 'bf16' },
    'shard-gb': { type: 'string' },
    data: { type: 'string' },
    method: { type: 'string' },
    model: { type: 'string' },
    weights: { type: 'string' },
    'prompt-tokens': { type: 'string', default: '64' },
    'new-tokens': { type: 'string', default: '64' },
    markdown: { type: 'string' },
  },
});
// Each step imports only what it runs (a merge needs no inference code, and the other way round).
const need = (v: string | undefined, flag: string): string => v ?? fail(`device check ${step}: ${flag} is required`, 2);

switch (step) {
  case 'adapter':
    await (await import('./adapter')).adapterStep();
    break;
  case 'bandwidth':
    await (
      await import('./copy-bandwidth')
    ).bandwidthStep({ mib: positive(values.mib, '--mib'), reps: positive(values.reps ?? '5', '--reps') });
    break;
  case 'generate':
    await (
      await import('./generate')
    ).generateStep({
      out: need(values.out, '--out'),
      seed: Number(values.seed),
      layers: positive(values.layers, '--layers'),
      vocab: positive(values.vocab, '--vocab'),
      dtype: values.dtype!,
      ...(values['shard-gb'] ? { shardGb: positive(values['shard-gb'], '--shard-gb') } : {}),
    });
    break;
  case 'merge':
    await (
      await import('./merge-one')
    ).mergeStep({ data: need(values.data, '--data'), method: need(values.method, '--method') });
    break;
  case 'decode':
    await (
      await import('./decode')
    ).decodeStep({
      model: need(values.model, '--model'),
      weights: need(values.weights, '--weights'),
      promptTokens: positive(values['prompt-tokens'], '--prompt-tokens'),
      newTokens: positive(values['new-tokens'], '--new-tokens'),
      reps: positive(values.reps ?? '2', '--reps'),
    });
    break;
  case 'report':
    (await import('./report')).reportStep(values.markdown);
    break;
  default:
    fail(`device check: unknown step '${step ?? ''}' (adapter, bandwidth, generate, merge, decode, report)`, 2);
}
// Dawn's instance keeps the event loop alive; every step is done here.
process.exit(0);
