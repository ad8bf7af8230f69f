/**
 * Faults injected into one merge or evaluation in the page, for the end-to-end tests of what a
 * user sees when the GPU or a worker dies mid-work (test/e2e/faults-*.e2e.test.ts). The page reads
 * them from its URL (`?fault=gpu-lost@3`) and hands them to its next merge (or evaluation) only;
 * each is a real failure of the real part, not a mocked error: the merge worker destroys its
 * GPUDevice, closes itself, throws an uncaught error, or has one of its tensor workers close
 * itself, once `after` tensors are done; the evaluation worker closes itself after `after` responses.
 */

export type MergeFaultKind = 'gpu-lost' | 'merge-worker-exit' | 'merge-worker-error' | 'tensor-worker-exit';

export interface MergeFault {
  readonly kind: MergeFaultKind;
  /** Tensors finished before the fault (for `tensor-worker-exit`: tensors that worker finished). */
  readonly after: number;
}

const KINDS: readonly MergeFaultKind[] = ['gpu-lost', 'merge-worker-exit', 'merge-worker-error', 'tensor-worker-exit'];

/** `kind@after` (as in the URL's `fault` parameter); undefined for anything else. */
export function parseMergeFault(text: string | null | undefined): MergeFault | undefined {
  const m = /^([a-z-]+)@(\d{1,6})$/.exec(text ?? '');
  const kind = KINDS.find((k) => k === m?.[1]);
  return kind && m ? { kind, after: Number(m[2]) } : undefined;
}

/** The message a tensor worker is sent first when it is to close itself after `after` tensors. */
export interface TensorWorkerFaultMessage {
  readonly labFault: { readonly closeAfterTensors: number };
}

export function isTensorWorkerFault(data: unknown): data is TensorWorkerFaultMessage {
  return typeof data === 'object' && data !== null && 'labFault' in data;
}

/** The evaluation worker closes itself once `after` responses have finished. */
export interface EvalFault {
  readonly kind: 'eval-worker-exit';
  readonly after: number;
}

/** `eval-worker-exit@after`; undefined for anything else. */
export function parseEvalFault(text: string | null | undefined): EvalFault | undefined {
  const m = /^eval-worker-exit@(\d{1,6})$/.exec(text ?? '');
  return m ? { kind: 'eval-worker-exit', after: Number(m[1]) } : undefined;
}

/** The `fault` parameter of the page's URL (undefined outside a page). */
export function urlFault(): string | null {
  return typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('fault');
}
