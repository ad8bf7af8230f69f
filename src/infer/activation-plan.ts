/**
 * The activations term of the memory plan (./memory-plan.ts): the f32 buffers of one layer at the
 * largest moment of a run. Batched generation prefills each new prompt alone (B = 1, S prompt
 * tokens) and decodes B rows of one token each against up to `tokens` keys; a prefill of B prompts
 * together (calibration's batches) holds B × S rows at once. The plan takes whichever moment is larger.
 */

export interface TensorBytes {
  readonly name: string;
  readonly bytes: number;
  /** How a weight is stored: 'f32', 'f16' or '4-bit packed'. */
  readonly dtype?: string;
}

/** The model dimensions the activations depend on (a subset of ./memory-plan.ts's PlanModel). */
export interface ActivationModel {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
}

export interface ActivationMoment {
  /** Sequences whose rows are in one call. */
  readonly batch: number;
  /** New tokens per sequence in the call (the prompt for a prefill, 1 for a decode step). */
  readonly rows: number;
  /** Keys each query attends to. */
  readonly keys: number;
  /** Logits for every new token (else the last one). */
  readonly allLogits: boolean;
}

export interface ActivationTerm {
  readonly bytes: number;
  readonly largest: TensorBytes;
}

/** One call's buffers: [count, tensor] pairs, as the graph keeps them alive at once. */
function momentTerm(m: ActivationModel, { batch: B, rows: S, keys: T, allLogits }: ActivationMoment): ActivationTerm {
  const rows = B * S;
  const buffers: [TensorBytes, number][] = [
    [{ name: 'hidden state [S, H]', bytes: rows * m.hiddenSize * 4 }, 4],
    [{ name: 'q, k, v', bytes: rows * (m.numHeads + 2 * m.numKvHeads) * m.headDim * 4 }, 1],
    [{ name: 'MLP activation [S, I]', bytes: rows * m.intermediateSize * 4 }, 3],
    [{ name: `attention probabilities [nH, S, ${S === T ? 'S' : 'T'}]`, bytes: B * m.numHeads * S * T * 4 }, 1],
    [{ name: `logits [${allLogits ? 'S' : 1}, V]`, bytes: B * (allLogits ? S : 1) * m.vocabSize * 4 }, 1],
  ];
  const largest = buffers.map(([t]) => t).reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return { bytes: buffers.reduce((sum, [t, n]) => sum + n * t.bytes, 0), largest };
}

/**
 * The larger of the prefill (`prompt` tokens, of one sequence or, with `prefillTogether`, of all
 * `batch`) and a decode step of `batch` rows against `tokens` keys.
 */
export function activationTerm(
  m: ActivationModel,
  opts: { batch: number; prompt: number; tokens: number; allLogits: boolean; prefillTogether: boolean },
): ActivationTerm {
  const { batch, prompt, tokens, allLogits, prefillTogether } = opts;
  const prefill = momentTerm(m, { batch: prefillTogether ? batch : 1, rows: prompt, keys: prompt, allLogits });
  if (batch === 1) return prefill;
  const decode = momentTerm(m, { batch, rows: 1, keys: tokens, allLogits });
  return decode.bytes > prefill.bytes ? decode : prefill;
}
