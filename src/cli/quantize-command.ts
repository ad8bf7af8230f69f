/**
 * `merge-lab quantize --model DIR --weights q4|f16 [--block-size 32|64|128] --out DIR`: derives
 * the checkpoint's f16 / q4 weights once (the bytes a load would make) and writes them with a
 * manifest, for loads to reuse (`--weights-cache`, or the folder handed to the engine). q4 blocks
 * come from the CPU spec or, with `--backend webgpu`, the WGSL packer (identical bytes). Progress
 * goes to stderr; Ctrl-C cancels and removes the partial output.
 */
import { checkpointKey, quantizeTo } from '../node/weights-cache';
import { formatBytes } from '../core/units';
import { WebGpuBackend } from '../gpu/backend';
import { UsageError, parse, weightOptions } from './args';
import { selectBackend } from './backends';

export const QUANTIZE_USAGE =
  'merge-lab quantize --model DIR --weights q4|f16 [--block-size 32|64|128] [--backend cpu|webgpu] --out DIR';

export async function quantizeCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    model: { type: 'string', short: 'm' },
    out: { type: 'string', short: 'o' },
    weights: { type: 'string' },
    'block-size': { type: 'string' },
    backend: { type: 'string', default: 'cpu' },
  });
  if (!values.model || !values.out || !values.weights) throw new UsageError(`usage: ${QUANTIZE_USAGE}`);
  const { weights, blockSize } = weightOptions(values);
  if (weights === 'f32') throw new UsageError('--weights must be q4 or f16 (f32 is read in place)');
  if (values.backend !== 'cpu' && values.backend !== 'webgpu')
    throw new UsageError(`--backend must be cpu or webgpu (got '${values.backend}')`);
  // webgpu: q4 blocks from the WGSL packer (shaders/q4-pack.wgsl), bit-exact with the CPU spec.
  const selected = values.backend === 'webgpu' ? await selectBackend('webgpu') : undefined;
  const gpu = selected?.backend;
  if (selected) process.stderr.write(`q4 packer: ${selected.notice}\n`);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const t0 = performance.now();
  try {
    process.stderr.write(`hashing ${values.model}…\n`);
    const key = await checkpointKey(values.model, ac.signal);
    const { bytes } = await quantizeTo(values.model, values.out, {
      weights,
      ...(blockSize ? { blockSize } : {}),
      key,
      signal: ac.signal,
      ...(gpu instanceof WebGpuBackend && {
        packQ4: (raw, dtype, n, k, block, tensor) =>
          gpu.packQ4({ bytes: raw, dtype }, n, k, block, { tensor, signal: ac.signal }),
        chunkElements: 2 ** 24,
      }),
      onTensor: (done, total) => process.stderr.write(`\r${weights}: ${done}/${total} tensors\x1b[K`),
    });
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    process.stderr.write(`\nwrote ${formatBytes(bytes)} of ${weights} weights to ${values.out} in ${s} s\n`);
  } finally {
    process.off('SIGINT', onSigint);
    await gpu?.dispose?.();
  }
}
