/**
 * The sensitivity pass on WebGPU, the twin of src/infer/sens/pass.ts with the same inputs and
 * result: forward through the decoder keeping each block's input on the GPU, the streamed head and
 * cross-entropy, then backward block by block (each recomputed from its input), the embeddings
 * last. Weights are read from the checkpoint and uploaded one block (or head chunk) at a time, and
 * dropped after; no parameter gradient is stored, only per-workgroup partial sums, read back once
 * at the end and added in f64. Memory: the block inputs of one sequence, one block's weights and
 * activations, one head chunk.
 */
import { throwIfAborted } from '../../../core/errors';
import { ropeInvFreq } from '../../architecture';
import { InferError } from '../../errors';
import { loadBlock } from '../block';
import { ropeTables } from '../ops';
import { type PassOptions, type PassResult, type SensSample, checkSample } from '../pass';
import type { SensBackendPass } from '../calibrate';
import type { SensWeights } from '../weights';
import type { Buf, SensGpu } from './context';
import { encodeBlockBackward, encodeBlockForward, releaseBlock, uploadBlock } from './block';
import { fold, rmsNormBackward, rmsNormForward } from './encode';
import { gatherRows, scatterRows } from './encode-rows';
import { type TiedHead, headBackward, headLoss } from './head';
import { SensRun, slotValue } from './run';

/** The sample's distinct token ids (in order of first use) and each position's index among them. */
function distinctIds(ids: readonly number[]) {
  const row = new Map<number, number>();
  for (const id of ids) if (!row.has(id)) row.set(id, row.size);
  return { row, of: Uint32Array.from(ids, (id) => row.get(id)!) };
}

/** For the `embed` kernel: U + 1 offsets, then the positions of each distinct id in turn. */
function positionLists(of: Uint32Array, distinct: number): Uint32Array {
  const lists: number[][] = Array.from({ length: distinct }, () => []);
  of.forEach((u, t) => lists[u]!.push(t));
  const out = new Uint32Array(distinct + 1 + of.length);
  let at = 0;
  lists.forEach((l, u) => {
    out[u] = at;
    out.set(l, distinct + 1 + at);
    at += l.length;
  });
  out[distinct] = at;
  return out;
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 3 : 0);

/** The head_dim the attention kernels hold in registers (MAX_HEAD_DIM of sens-attention.wgsl). */
const MAX_HEAD_DIM = 256;

/** Refuses what the kernels cannot bind: a head_dim past their registers, an activation past one binding. */
function checkFits(gpu: SensGpu, weights: SensWeights, rows: number): void {
  const s = weights.spec;
  if (s.headDim > MAX_HEAD_DIM)
    throw new InferError(
      'unsupported-feature',
      `${weights.name}: head_dim ${s.headDim} is past the WebGPU pass's ${MAX_HEAD_DIM}; use the CPU backward pass`,
    );
  const widest = Math.max(s.intermediate, s.heads * s.headDim, s.hidden) * rows * 4;
  if (widest > gpu.maxBindingBytes)
    throw new InferError(
      'does-not-fit',
      `${weights.name}: a ${rows}-token sample needs ${mib(widest)} MiB activations, past this ` +
        `adapter's ${mib(gpu.maxBindingBytes)} MiB storage binding; cap the tokens (--max-tokens) or use the CPU backward pass`,
    );
}

export async function gpuSensitivityPass(
  gpu: SensGpu,
  weights: SensWeights,
  sample: SensSample,
  opts: PassOptions = {},
): Promise<PassResult> {
  checkSample(weights, sample);
  checkFits(gpu, weights, sample.ids.length);
  const s = weights.spec;
  const { hidden: d, vocab: V } = s;
  const n = sample.ids.length;
  const m = sample.targets.length;
  const { signal } = opts;
  const r = new SensRun(gpu, opts.probes ?? new Map());
  const live = new Set<Buf>();
  const keep = <B extends Buf>(b: B): B => (live.add(b), b);
  const drop = (...bs: Buf[]) => bs.forEach((b) => live.delete(b) && gpu.release(b));
  try {
    const ids = distinctIds(sample.ids);
    const U = ids.row.size;
    const table = new Float32Array(U * d);
    for (const [id, u] of ids.row)
      table.set(await weights.rows('model.embed_tokens.weight', [V, d], id, id + 1), u * d);
    const emb = keep(gpu.upload(table, 'sens:embedding-rows'));
    const { cos, sin } = ropeTables(ropeInvFreq(s), n);
    const rope = keep(gpu.upload(Float32Array.from([...cos, ...sin]), 'sens:rope'));
    const ctx = { spec: s, rows: n, rope };

    // Forward: every block's input stays on the GPU.
    const inputs: Buf[] = [keep(gpu.alloc(n * d, 'sens:block-input'))];
    let op = gpu.ctx.begin('sens:embed');
    gatherRows(r, op, emb, gpu.uploadTemp(op, ids.of, 'sens:ids'), inputs[0]!, n, d);
    await gpu.submit(op);
    for (let l = 0; l < s.layers; l++) {
      throwIfAborted(signal, 'sensitivity pass');
      const w = uploadBlock(r, await loadBlock(weights, l));
      op = gpu.ctx.begin(`sens:forward ${l}`);
      const out = keep(gpu.alloc(n * d, 'sens:block-input'));
      encodeBlockForward(r, op, ctx, w, inputs[l]!, out);
      await gpu.submit(op);
      releaseBlock(r, w);
      inputs.push(out);
    }
    const last = inputs.pop()!;
    const normW = keep(gpu.upload(await weights.tensor('model.norm.weight', [d]), 'sens:norm'));
    const normY = keep(gpu.alloc(n * d, 'sens:final-norm'));
    const normInv = keep(gpu.alloc(n, 'sens:final-inv'));
    const positions = keep(
      gpu.upload(
        Uint32Array.from(sample.targets, (k) => k - 1),
        'sens:positions',
      ),
    );
    const hs = keep(gpu.alloc(m * d, 'sens:head-input'));
    op = gpu.ctx.begin('sens:final-norm');
    rmsNormForward(r, op, last, normW, normY, normInv, n, d, s.eps);
    gatherRows(r, op, normY, positions, hs, m, d);
    await gpu.submit(op);

    // Head and cross-entropy.
    const labels = keep(
      gpu.upload(
        Uint32Array.from(sample.targets, (k) => sample.ids[k]!),
        'sens:labels',
      ),
    );
    const stats = keep(await headLoss(r, weights, hs, labels, m, signal));
    const embGrad = keep(gpu.alloc(U * d, 'sens:embedding-grad'));
    op = gpu.ctx.begin('sens:clear');
    op.enc.clearBuffer(embGrad.buffer, 0, embGrad.size);
    await gpu.submit(op);
    let tied: TiedHead | undefined;
    if (s.tied) {
      const mask = new Uint32Array(V);
      for (const id of ids.row.keys()) mask[id] = 1;
      tied = { mask: keep(gpu.upload(mask, 'sens:tied-mask')), row: ids.row, grad: embGrad };
    }
    const dHs = keep(await headBackward(r, weights, { hs, labels, stats, rows: m, ...(tied ? { tied } : {}) }, signal));

    // Final norm, then the blocks backward.
    let dx = keep(gpu.alloc(n * d, 'sens:dx'));
    op = gpu.ctx.begin('sens:final-norm-backward');
    const dNorm = gpu.temp(op, n * d, 'sens:dnorm');
    op.enc.clearBuffer(dNorm.buffer, 0, dNorm.size);
    scatterRows(r, op, dHs, positions, dNorm, m, d);
    rmsNormBackward(r, op, 'model.norm.weight', { dy: dNorm, x: last, w: normW, inv: normInv, dx }, n, d);
    await gpu.submit(op);
    for (let l = s.layers - 1; l >= 0; l--) {
      throwIfAborted(signal, 'sensitivity pass');
      const w = uploadBlock(r, await loadBlock(weights, l));
      op = gpu.ctx.begin(`sens:backward ${l}`);
      const next = keep(gpu.alloc(n * d, 'sens:dx'));
      encodeBlockBackward(r, op, ctx, l, w, inputs[l]!, dx, next);
      await gpu.submit(op);
      releaseBlock(r, w);
      drop(inputs[l]!, dx);
      dx = next;
      opts.onBlock?.(s.layers - l, s.layers);
    }

    // Embeddings: the used rows' gradients (+ the tied head's), folded with those rows.
    op = gpu.ctx.begin('sens:embedding');
    const lists = gpu.uploadTemp(op, positionLists(ids.of, U), 'sens:positions-of-ids');
    op.dispatch('sens-vector', {
      entry: 'embed',
      uniforms: { rows: U, width: d, mode: 0, n: 0, slot: 0, probeCount: 0, probeSlot: 0 },
      bind: { a: dx, b: r.none, scale: r.none, theta: r.none, idx: lists, g: embGrad, results: r.spare[0] },
      workgroups: [Math.ceil(d / 64), U],
    });
    fold(r, op, 'model.embed_tokens.weight', embGrad, emb, U * d, (f) => {
      const u = ids.row.get(Math.floor(f / d));
      return u === undefined ? undefined : u * d + (f % d);
    });
    const lossRows = r.results.take(2 * m);
    op.enc.copyBufferToBuffer(stats.buffer, 3 * m * 4, lossRows.buf.buffer, lossRows.index * 4, 2 * m * 4);
    await gpu.submit(op);

    const { tensors, gradients, values } = await r.finish();
    let loss = 0;
    for (let j = 0; j < m; j++) loss += slotValue(values, lossRows, m + j) - slotValue(values, lossRows, j);
    return { loss: loss / m, tensors, gradients };
  } finally {
    drop(...live);
    r.close();
  }
}

/** The WebGPU pass on `gpu` as a calibration backend (sensCalibrate's `backend`). */
export function webgpuBackend(gpu: SensGpu): SensBackendPass {
  return {
    pass: (weights, sample, opts) => gpuSensitivityPass(gpu, weights, sample, opts),
    name: gpu.name,
    precision:
      'f32 arithmetic on WebGPU (weights decoded exactly into f32), per-workgroup partial sums added in f64; logit distances on the CPU in f64',
  };
}
