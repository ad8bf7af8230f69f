/**
 * One sensitivity pass (forward, streamed head and cross-entropy, backward) of a checkpoint on a
 * seeded random token sequence, every token after the first a target: the scale check's workload.
 *
 *   npx tsx tools/sens/pass-once.ts --model DIR [--tokens 256] [--seed 1]
 */
import { parseArgs } from 'node:util';
import { Checkpoint } from '../../src/core/formats/checkpoint';
import { sensGroup } from '../../src/core/sens/stats';
import { sensitivityPass } from '../../src/infer/sens/pass';
import { SensWeights } from '../../src/infer/sens/weights';
import { FsModelFolder } from '../../src/node/fs-folder';
import { xorshift32 } from '../random-qwen';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    tokens: { type: 'string', default: '256' },
    seed: { type: 'string', default: '1' },
  },
});
if (!values.model) {
  console.error('usage: tools/sens/pass-once.ts --model DIR [--tokens 256] [--seed 1]');
  process.exit(2);
}
const folder = new FsModelFolder(values.model);
const weights = new SensWeights(await Checkpoint.open(folder, { requireConfig: true }));
const next = xorshift32(Number(values.seed));
const n = Number(values.tokens);
const ids = Array.from({ length: n }, () => next() % weights.spec.vocab);
const t0 = Date.now();
const r = await sensitivityPass(
  weights,
  { ids, targets: ids.map((_, k) => k).slice(1) },
  {
    onBlock: (d, total) => process.stderr.write(`block ${d}/${total} at ${((Date.now() - t0) / 1000).toFixed(0)} s\n`),
  },
);
const groups = new Map<string, number>();
for (const [name, s] of r.tensors) groups.set(sensGroup(name), (groups.get(sensGroup(name)) ?? 0) + s.abs);
console.log(`loss ${r.loss.toFixed(4)}, ${groups.size} layer groups, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
await folder.close();
