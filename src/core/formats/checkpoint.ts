/**
 * A Hugging Face checkpoint folder: config.json, one `model.safetensors` or shards listed by
 * `model.safetensors.index.json`, and tokenizer files. Opening reads headers only.
 */
import { CheckpointError, SafetensorsError } from '../errors';
import { type ModelFolder, readText } from '../io/byte-source';
import { type ModelConfig, parseModelConfig } from './model-config';
import { SafetensorsFile, type TensorInfo } from './safetensors';

export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'vocab.json',
  'merges.txt',
] as const;

export interface CheckpointTensor extends TensorInfo {
  readonly file: SafetensorsFile;
}

export class Checkpoint {
  private constructor(
    readonly folder: ModelFolder,
    readonly config: ModelConfig | undefined,
    readonly shards: readonly SafetensorsFile[],
    readonly tensors: ReadonlyMap<string, CheckpointTensor>,
    /** Problems that do not stop a merge (unreferenced shards), in plain words. */
    readonly warnings: readonly string[],
  ) {}

  get name(): string {
    return this.folder.name;
  }

  get totalBytes(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.byteLength;
    return n;
  }

  static async open(folder: ModelFolder, opts: { requireConfig?: boolean } = {}): Promise<Checkpoint> {
    const files = await folder.list();
    const path = (f: string) => `${folder.name}/${f}`;
    const warnings: string[] = [];

    let config: ModelConfig | undefined;
    const configSrc = await folder.open('config.json');
    if (configSrc) config = parseModelConfig(await readText(configSrc), path('config.json'));
    else if (opts.requireConfig) throw new CheckpointError('missing-file', path('config.json'), 'missing');

    let shardNames: string[];
    const indexSrc = await folder.open('model.safetensors.index.json');
    if (indexSrc) {
      let index: { weight_map?: Record<string, string> } | null;
      try {
        index = JSON.parse(await readText(indexSrc));
      } catch (e) {
        throw new CheckpointError(
          'bad-index',
          path('model.safetensors.index.json'),
          `not valid JSON (${(e as Error).message})`,
        );
      }
      const wm = index?.weight_map;
      if (!wm || typeof wm !== 'object' || Array.isArray(wm))
        throw new CheckpointError('bad-index', path('model.safetensors.index.json'), "no 'weight_map' object");
      for (const [name, shard] of Object.entries(wm))
        if (typeof shard !== 'string')
          throw new CheckpointError(
            'bad-index',
            path('model.safetensors.index.json'),
            `weight_map[${JSON.stringify(name)}] is not a file name`,
          );
      shardNames = [...new Set(Object.values(wm))];
      const missing = shardNames.filter((s) => !files.includes(s));
      if (missing.length)
        throw new CheckpointError(
          'missing-shard',
          path('model.safetensors.index.json'),
          `references missing shard(s): ${missing.join(', ')}`,
        );
      const unreferenced = files.filter((f) => f.endsWith('.safetensors') && !shardNames.includes(f));
      if (unreferenced.length)
        warnings.push(`shard(s) not referenced by the index, ignored: ${unreferenced.join(', ')}`);
      const shards = await Promise.all(shardNames.map(async (s) => SafetensorsFile.open((await folder.open(s))!)));
      const tensors = new Map<string, CheckpointTensor>();
      for (const [name, shardFile] of Object.entries(wm)) {
        const shard = shards[shardNames.indexOf(shardFile)]!;
        const info = shard.tensors.get(name);
        if (!info)
          throw new SafetensorsError(
            'missing-tensor',
            path(shardFile),
            'listed in the index but absent from the shard',
            name,
          );
        tensors.set(name, { ...info, file: shard });
      }
      for (const shard of shards)
        for (const name of shard.tensors.keys())
          if (!tensors.has(name)) warnings.push(`${shard.name}: tensor '${name}' is not in the index, ignored`);
      return new Checkpoint(folder, config, shards, tensors, warnings);
    }

    shardNames = files.filter((f) => f.endsWith('.safetensors')).sort();
    if (shardNames.length === 0)
      throw new CheckpointError('missing-file', path('model.safetensors'), 'no .safetensors file in the folder');
    if (shardNames.length > 1 && files.includes('model.safetensors')) {
      warnings.push(`several .safetensors files and no index: using model.safetensors only`);
      shardNames = ['model.safetensors'];
    }
    const shards = await Promise.all(shardNames.map(async (s) => SafetensorsFile.open((await folder.open(s))!)));
    const tensors = new Map<string, CheckpointTensor>();
    for (const shard of shards)
      for (const info of shard.tensors.values()) {
        if (tensors.has(info.name))
          throw new CheckpointError(
            'duplicate-tensor',
            path(shard.name),
            `tensor '${info.name}' also appears in ${tensors.get(info.name)!.file.name}`,
          );
        tensors.set(info.name, { ...info, file: shard });
      }
    return new Checkpoint(folder, config, shards, tensors, warnings);
  }

  async close(): Promise<void> {
    await this.folder.close?.();
  }

  tensor(name: string): CheckpointTensor | undefined {
    return this.tensors.get(name);
  }
}
