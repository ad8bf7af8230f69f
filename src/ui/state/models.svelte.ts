/** The models the lab knows about: the demo family, local checkpoints and merges made here. */
import { DEMO_MODELS, type FileGroup, fetchDemoModel } from '../../browser/model-files';
import { describeError } from '../../core/errors';
import { Checkpoint } from '../../core/formats/checkpoint';
import { type CheckpointSummary, describeCheckpoint } from '../../core/formats/describe';
import { MapModelFolder } from '../../core/io/byte-source';

export type ModelOrigin = 'demo' | 'local' | 'merged';

/** The part a model plays in the paper's setting: System 1, System 2, or their pretrained base. */
export type ModelRole = (typeof DEMO_MODELS)[number]['role'];

export interface ModelEntry {
  readonly id: string;
  readonly name: string;
  readonly origin: ModelOrigin;
  readonly label: string;
  readonly files: Map<string, Blob>;
  readonly status: 'loading' | 'ready' | 'error';
  readonly summary?: CheckpointSummary;
  readonly error?: string;
  /** Declared for the demo family; local models and merges have none. */
  readonly role?: ModelRole;
}

/** Why a model cannot be evaluated in Compare (it can still be merged), or undefined when it can. */
export function evaluationProblem(entry: ModelEntry): string | undefined {
  if (!entry.files.has('tokenizer.json'))
    return 'no tokenizer.json: it can be merged, but not evaluated in Compare (add the tokenizer files)';
  return undefined;
}

let nextId = 1;

export class ModelsState {
  #entries = $state.raw<ModelEntry[]>([]);

  get entries(): readonly ModelEntry[] {
    return this.#entries;
  }

  get ready(): ModelEntry[] {
    return this.#entries.filter((e) => e.status === 'ready');
  }

  byName(name: string): ModelEntry | undefined {
    return this.#entries.find((e) => e.name === name);
  }

  /** The ready model that plays a role (the demo family declares them). */
  byRole(role: ModelRole): ModelEntry | undefined {
    return this.ready.find((e) => e.role === role);
  }

  private upsert(entry: ModelEntry): void {
    const i = this.#entries.findIndex((e) => e.id === entry.id);
    this.#entries = i < 0 ? [...this.#entries, entry] : this.#entries.map((e, j) => (j === i ? entry : e));
  }

  remove(id: string): void {
    this.#entries = this.#entries.filter((e) => e.id !== id);
  }

  /** Opens a group of files as a checkpoint (headers only) and records what is wrong, if anything. */
  async add(group: FileGroup, origin: ModelOrigin, label = group.name, role?: ModelRole): Promise<ModelEntry> {
    let name = group.name;
    for (let k = 2; this.#entries.some((e) => e.name === name); k++) name = `${group.name}-${k}`;
    const id = `m${nextId++}`;
    const base = { id, name, origin, label, files: group.files, ...(role ? { role } : {}) };
    this.upsert({ ...base, status: 'loading' });
    let entry: ModelEntry;
    try {
      const ckpt = await Checkpoint.open(new MapModelFolder(name, group.files));
      entry = { ...base, status: 'ready', summary: describeCheckpoint(ckpt) };
    } catch (e) {
      entry = { ...base, status: 'error', error: describeError(e) };
    }
    this.upsert(entry);
    return entry;
  }

  async loadDemo(): Promise<void> {
    await Promise.all(
      DEMO_MODELS.map(async (d) => {
        if (this.byName(d.id)) return;
        try {
          await this.add(await fetchDemoModel(d.id), 'demo', d.label, d.role);
        } catch (e) {
          this.upsert({
            id: `m${nextId++}`,
            name: d.id,
            origin: 'demo',
            label: d.label,
            role: d.role,
            files: new Map(),
            status: 'error',
            error: describeError(e),
          });
        }
      }),
    );
    // Keep the demo family in a stable order: quick, slow, base.
    const order = DEMO_MODELS.map((d) => d.id as string);
    this.#entries = [...this.#entries].sort(
      (a, b) => (order.indexOf(a.name) + 1 || 99) - (order.indexOf(b.name) + 1 || 99),
    );
  }
}
