/**
 * One sample's bookkeeping on the GPU: which results slots hold which tensor's partial sums and
 * which probed gradient values, the small placeholder buffers bound where a kernel's entry point
 * does not use a binding, and the final readback that turns the partials into each tensor's
 * Σ|θ⊙g| and Σθ⊙g (added in f64 in a fixed order, so the pass is deterministic).
 */
import type { TensorSensitivity } from '../ops';
import { type Buf, Results, type SensGpu, type Slot } from './context';

interface Place {
  readonly segment: number;
  readonly index: number;
}

export class SensRun {
  readonly results: Results;
  /** A read-only placeholder, bindable to any number of read bindings. */
  readonly none: Buf;
  /** Two distinct writable placeholders, for unused read_write bindings. */
  readonly spare: readonly [Buf, Buf];
  private readonly partials: { name: string; place: Place; count: number }[] = [];
  private readonly probed = new Map<string, (Place | undefined)[]>();
  private closed = false;

  constructor(
    readonly gpu: SensGpu,
    readonly probes: ReadonlyMap<string, readonly number[]>,
  ) {
    this.results = new Results(gpu);
    this.none = gpu.upload(new Float32Array(4), 'sens:none');
    this.spare = [gpu.alloc(4, 'sens:spare0'), gpu.alloc(4, 'sens:spare1')];
    for (const [name, idx] of probes)
      this.probed.set(
        name,
        idx.map(() => undefined),
      );
  }

  /** A slot for `count` (abs, signed) partial pairs of `name`, then `extra` more floats. */
  partial(name: string, count: number, extra = 0): Slot {
    const slot = this.results.take(2 * count + extra);
    this.partials.push({ name, place: slot, count });
    return slot;
  }

  /** The probes k of `name` whose flat index maps (through `local`) to an index the kernel can read. */
  probeList(
    name: string,
    local: (flat: number) => number | undefined,
  ): { ks: number[]; local: Uint32Array } | undefined {
    const all = this.probes.get(name);
    if (!all) return undefined;
    const ks = all.flatMap((f, k) => (local(f) !== undefined ? [k] : []));
    if (!ks.length) return undefined;
    return { ks, local: Uint32Array.from(ks, (k) => local(all[k]!)!) };
  }

  /** Records that probes `ks` of `name` are written at slot + offset, + 1, …. */
  placeProbes(name: string, ks: readonly number[], slot: Slot, offset = 0): void {
    const places = this.probed.get(name)!;
    ks.forEach((k, j) => (places[k] = { segment: slot.segment, index: slot.index + offset + j }));
  }

  /** Reads every result back; per tensor Σ|θ⊙g| and Σθ⊙g, and the probed values (0 where no kernel wrote one: a zero gradient). */
  async finish(): Promise<{
    tensors: Map<string, TensorSensitivity>;
    gradients: Map<string, number[]>;
    values: Float32Array[];
  }> {
    const values = await this.results.read();
    const tensors = new Map<string, TensorSensitivity>();
    for (const { name, place, count } of this.partials) {
      const v = values[place.segment]!;
      const acc = tensors.get(name) ?? { abs: 0, signed: 0 };
      for (let i = 0; i < count; i++) {
        acc.abs += v[place.index + 2 * i]!;
        acc.signed += v[place.index + 2 * i + 1]!;
      }
      tensors.set(name, acc);
    }
    const gradients = new Map<string, number[]>();
    for (const [name, places] of this.probed)
      gradients.set(
        name,
        places.map((p) => (p ? values[p.segment]![p.index]! : 0)),
      );
    return { tensors, gradients, values };
  }

  /** Back to the pool: the placeholders, and any results not read (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.results.discard();
    this.gpu.release(this.none, ...this.spare);
  }
}

/** A slot's value at `offset`, from finish()'s values. */
export const slotValue = (values: readonly Float32Array[], slot: Slot, offset: number): number =>
  values[slot.segment]![slot.index + offset]!;
