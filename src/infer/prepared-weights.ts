/**
 * Prepared weights: the f16 / q4 files a graph derives (./derived-weights.ts), written once
 * (`merge-lab quantize`, a cache folder) with a manifest, and reused by later loads instead of
 * packing again. A folder is used only when its manifest names the same checkpoint content key,
 * format and block size and lists exactly the tensors the graph plans; another checkpoint's
 * folder is passed over with a notice, a damaged one is an InferError naming the file.
 */
import type { LabWarning } from '../core/errors';
import type { ModelFolder } from '../core/io/byte-source';
import { readText } from '../core/io/byte-source';
import type { DerivedWeights } from './derived-weights';
import { InferError } from './errors';
import { onDemandFromSource } from './on-demand-weights';
import type { WeightFormat } from './weight-format';

export const MANIFEST_NAME = 'merge-lab.weights.json';
/** 2: the q4 embedding is packed (GatherBlockQuantized) instead of f16. Older folders are packed again. */
const MANIFEST_VERSION = 2;

export interface ManifestTensor {
  name: string;
  file: string;
  offset: number;
  length: number;
  shape: number[];
  /** ONNX TensorProto data type (1 float, 2 uint8, 10 float16). */
  dataType: number;
}

export interface WeightsManifest {
  version: number;
  /** The source checkpoint's content key (SHA-256 over its safetensors files and config.json). */
  key: string;
  format: WeightFormat;
  blockSize: number | null;
  files: { name: string; bytes: number }[];
  tensors: ManifestTensor[];
}

/** Where a load may find prepared weights: the folder, and the key of the checkpoint being loaded. */
export interface PreparedWeights {
  dir: ModelFolder;
  key: string;
}

export function weightsManifest(
  derived: DerivedWeights,
  key: string,
  format: WeightFormat,
  blockSize: number,
): WeightsManifest {
  const sizes = derived.fileBytes;
  return {
    version: MANIFEST_VERSION,
    key,
    format,
    blockSize: format === 'q4' ? blockSize : null,
    files: derived.locations.map((name, i) => ({ name, bytes: sizes[i]! })),
    tensors: derived.tensors.map((t) => ({
      name: t.name,
      file: t.location,
      offset: t.offset,
      length: t.byteLength,
      shape: [...t.shape],
      dataType: t.dataType,
    })),
  };
}

const damaged = (file: string, why: string) =>
  new InferError('missing-file', `${file}: prepared weights unusable: ${why}`, { file });

function parseManifest(text: string, file: string): WeightsManifest {
  let m: WeightsManifest;
  try {
    m = JSON.parse(text) as WeightsManifest;
  } catch (e) {
    throw damaged(file, `not valid JSON (${(e as Error).message})`);
  }
  if (
    !m ||
    typeof m.version !== 'number' ||
    typeof m.key !== 'string' ||
    !Array.isArray(m.files) ||
    !Array.isArray(m.tensors)
  )
    throw damaged(file, 'not a merge-lab weights manifest (version, key, files or tensors missing)');
  return m;
}

/** Whether the manifest lists exactly the tensors `derived` plans, at the same places. */
function sameLayout(m: WeightsManifest, derived: DerivedWeights): boolean {
  const planned = weightsManifest(derived, m.key, m.format, m.blockSize ?? 0);
  return (
    JSON.stringify(planned.tensors) === JSON.stringify(m.tensors) &&
    JSON.stringify(planned.files) === JSON.stringify(m.files)
  );
}

/**
 * The external data of `derived` from a prepared folder, or undefined when the folder has no
 * manifest or was made from another checkpoint / format (reported through `onWarning`).
 */
export async function readPreparedWeights(
  prepared: PreparedWeights,
  derived: DerivedWeights,
  want: { format: WeightFormat; blockSize: number },
  onWarning?: (w: LabWarning) => void,
): Promise<{ path: string; data: Uint8Array }[] | undefined> {
  const { dir } = prepared;
  const manifestFile = `${dir.name}/${MANIFEST_NAME}`;
  const src = await dir.open(MANIFEST_NAME);
  if (!src) return undefined;
  const m = parseManifest(await readText(src), manifestFile);
  const blockSize = want.format === 'q4' ? want.blockSize : null;
  if (m.version !== MANIFEST_VERSION) {
    onWarning?.({
      code: 'prepared-weights-mismatch',
      message: `${manifestFile} was written by another version of the lab (layout ${m.version}); packing the weights again instead`,
    });
    return undefined;
  }
  if (m.key !== prepared.key || m.format !== want.format || m.blockSize !== blockSize) {
    onWarning?.({
      code: 'prepared-weights-mismatch',
      message:
        `${manifestFile} holds ${m.format}${m.blockSize ? ` (block ${m.blockSize})` : ''} weights of another ` +
        `checkpoint or format; packing the weights again instead`,
    });
    return undefined;
  }
  if (!sameLayout(m, derived)) throw damaged(manifestFile, 'its tensors differ from the graph this model needs');
  const out: { path: string; data: Uint8Array }[] = [];
  for (const f of m.files) {
    const file = await dir.open(f.name);
    if (!file) throw damaged(`${dir.name}/${f.name}`, 'missing');
    if (file.size !== f.bytes)
      throw damaged(`${dir.name}/${f.name}`, `${file.size} bytes where the manifest says ${f.bytes}`);
    // Read in place while the session loads, where the folder reads synchronously (no whole-file copy).
    const data = file.readSync
      ? onDemandFromSource(f.bytes, (offset, length) => file.readSync!(offset, length))
      : await file.read(0, file.size);
    out.push({ path: f.name, data });
  }
  return out;
}
