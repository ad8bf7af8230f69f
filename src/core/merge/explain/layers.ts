/**
 * Explanations of the whole-tensor methods: passthrough (which layer of which model each output
 * tensor is, from the engine's own plan, with the values it wrote) and the SVD family (the task
 * vectors of a 2×4 toy weight, the spectra the method decomposed and the merged weight).
 */
import { delta } from '../../kernels/delta';
import type { ToyRun } from './toy';
import { TOY_TENSOR } from './toy';
import { type ExplainedBody, fmt, inputsOf, mergedOf, row, taskVectors, withWeight } from './rows';

const LAYER = /layers\.(\d+)\./;

/** `layer 3`, `embed_tokens`, `norm`, `lm_head`: where a tensor sits. */
const place = (name: string) => {
  const m = LAYER.exec(name);
  return m ? `layer ${m[1]}` : name.replace(/^model\./, '').replace(/\.weight$/, '');
};

/** More output layers than this are shown one row per run of consecutive layers from one model. */
const MAX_LAYER_ROWS = 12;

export function explainPassthrough(run: ToyRun): ExplainedBody {
  const label = (model: string) => run.models.get(model)?.stands ?? model;
  const source = (t: ToyRun['plan']['tensors'][number]) => {
    const src = t.inputs[0]!;
    const scale = src.params.weight !== 1 ? ` × ${fmt(src.params.weight)}` : '';
    return { model: label(src.model), layer: Number(LAYER.exec(src.tensor.name)?.[1]), scale, name: src.tensor.name };
  };
  const layers = run.plan.tensors.filter((t) => LAYER.test(t.name));
  const rows = run.plan.tensors
    .filter((t) => layers.length <= MAX_LAYER_ROWS || !LAYER.test(t.name))
    .map((t) => {
      const s = source(t);
      return row(`out ${place(t.name)} ← ${s.model} ${place(s.name)}${s.scale}`, run.outputs.get(t.name)!);
    });
  if (layers.length > MAX_LAYER_ROWS) {
    // Runs of consecutive layers from one model at one scale: first and last output values.
    const runs: { first: number; last: number }[] = [];
    layers.forEach((t, i) => {
      const [a, b] = [source(t), i > 0 ? source(layers[i - 1]!) : undefined];
      if (b && a.model === b.model && a.scale === b.scale && a.layer === b.layer + 1) runs.at(-1)!.last = i;
      else runs.push({ first: i, last: i });
    });
    const spans = runs.map(({ first, last }) => {
      const [a, b] = [source(layers[first]!), source(layers[last]!)];
      const values = [run.outputs.get(layers[first]!.name)![0]!, run.outputs.get(layers[last]!.name)![0]!];
      return row(`out layers ${first}–${last} ← ${a.model} layers ${a.layer}–${b.layer}${a.scale}`, values);
    });
    rows.splice(1, 0, ...spans);
  }
  const slices = run.recipe.slices;
  const origins = [...run.models.values()].map((m, k) => `${m.stands ?? m.name}: ${10 * (k + 1)} + l`).join(', ');
  return {
    summary: slices
      ? `Passthrough stacks the slices' layers in order: ${layers.length} output layers; embeddings from the first slice's model, the final norm and lm_head from the last's.`
      : 'Passthrough copies one model, every tensor times scale.',
    steps: [
      {
        caption: `Toy models whose layer l holds a value that names it (${origins}). The output, tensor by tensor:`,
        rows,
      },
    ],
    facts: [{ label: 'output layers', value: String(layers.length) }],
    merged: row(
      'output layers',
      layers.map((t) => run.outputs.get(t.name)![0]!),
      { text: layers.map((t) => `${source(t).model}.${source(t).layer}`) },
    ),
  };
}

export function explainSvd(run: ToyRun): ExplainedBody {
  const ins = inputsOf(run);
  const hasBase = run.recipe.baseModel !== undefined;
  const ds = hasBase ? taskVectors(ins) : ins;
  const d = run.diagnostics[TOY_TENSOR]?.svd;
  const facts = (d?.spectra ?? []).map((s) => ({
    label: `σ_max of ${run.models.get(s.model)?.label ?? s.model} (${s.matrix.replace(/_/g, ' ')})`,
    value: `${fmt(s.sigmaMax, 3)}, rank ${s.rank}`,
  }));
  if (d?.iso) facts.push({ label: 'σ̄ (flat spectrum)', value: fmt(d.iso.sigmaMean, 3) });
  if (d?.tsvRank !== undefined) facts.push({ label: 'rank kept per task vector', value: String(d.tsvRank) });
  const merged = mergedOf(run);
  return {
    summary:
      'Works on each 2-D weight matrix of the task vectors δ = θ − θ₀: an SVD finds their top singular directions, the method rebuilds the merged δ from them, and θ₀ + λ·δ is the result. Norms, biases and embeddings, which are not matrices it decomposes, fall back to task arithmetic.',
    steps: [
      { caption: 'Task vectors of a 2×4 toy weight.', rows: ds.map((v) => row(withWeight(v), v.values)) },
      {
        caption: 'The merged δ the method rebuilt from the singular directions.',
        rows: hasBase ? [row('merged δ', delta(merged, ins[0]!.values))] : [],
      },
    ],
    facts,
    merged: row('merged θ', merged),
  };
}
