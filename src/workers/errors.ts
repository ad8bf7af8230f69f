/**
 * Errors across a comlink boundary. comlink's own 'throw' handler keeps only name, message and
 * stack, so a LabError arrives as a plain Error without its code or file. This replaces it: a
 * LabError travels as its `toInfo()` record and is rebuilt with `fromErrorInfo` (an AbortError
 * stays an AbortError); other errors keep comlink's behaviour. Both sides of a worker call it
 * (the worker to serialize, the page to deserialize); calling it again does nothing.
 */
import { type TransferHandler, transferHandlers } from 'comlink';
import { LabError, type LabErrorInfo, fromErrorInfo, isLabErrorInfo } from '../core/errors';

type Thrown =
  | { kind: 'lab'; info: LabErrorInfo }
  | { kind: 'error'; name: string; message: string; stack: string | undefined }
  | { kind: 'value'; value: unknown };

let installed = false;

export function installLabErrorTransfer(): void {
  if (installed) return;
  const builtin = transferHandlers.get('throw');
  if (!builtin) throw new Error("comlink has no 'throw' transfer handler to replace");
  const handler: TransferHandler<{ value: unknown }, Thrown> = {
    // comlink marks a thrown value with a private symbol; its own handler knows how to spot it.
    canHandle: (v): v is { value: unknown } => builtin.canHandle(v),
    serialize({ value }) {
      if (value instanceof LabError) return [{ kind: 'lab', info: value.toInfo() }, []];
      if (value instanceof Error)
        return [{ kind: 'error', name: value.name, message: value.message, stack: value.stack }, []];
      return [{ kind: 'value', value }, []];
    },
    deserialize(t) {
      if (t.kind === 'lab' && isLabErrorInfo(t.info)) throw fromErrorInfo(t.info);
      if (t.kind === 'error') throw Object.assign(new Error(t.message), { name: t.name, stack: t.stack });
      throw t.kind === 'value' ? t.value : t;
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
  installed = true;
}
