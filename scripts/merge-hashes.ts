/**
 * Fingerprints of merge outputs, for refactors that must not change a single byte.
 *
 *   npx tsx scripts/merge-hashes.ts [--backends cpu,webgpu] [--out hashes.json] [--compare old.json]
 *
 * Merges every method (plus AIM, DARE rescale variants, layer gradients) through the
 * `merge-lab merge` CLI, on the demo pair and on generated f32/f16/bf16 sharded checkpoints,
 * and prints the SHA-256 of every output file. With --compare it exits 1 on any difference.
 * Only the CLI is called, so the script holds across internal restructuring.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { encodeFromF32, type DType } from '../src/core/dtype';
import { seededRandom } from '../src/core/random';
import { type RawTensor, encodeSafetensors } from '../test/helpers/checkpoints';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'cpu,webgpu' },
    out: { type: 'string' },
    compare: { type: 'string' },
  },
});
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
// Recipes name models by paths relative to this folder: the recipe is stored in every output header.
const work = mkdtempSync(path.join(tmpdir(), 'merge-hashes-'));

// ---------------------------------------------------------------- generated checkpoints

const safetensors = (tensors: RawTensor[]) => encodeSafetensors(tensors, { format: 'pt' });

/** A two-layer Qwen2-shaped checkpoint in two shards; `like` makes it a fine-tune of that seed. */
function writeModel(dir: string, dtype: DType, seed: number, like?: number): void {
  const h = 64;
  const inter = 176;
  const vocab = 96;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [vocab, h]]];
  for (let l = 0; l < 2; l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [h]],
      [`${p}.self_attn.q_proj.weight`, [h, h]],
      [`${p}.self_attn.q_proj.bias`, [h]],
      [`${p}.self_attn.k_proj.weight`, [h / 4, h]],
      [`${p}.self_attn.k_proj.bias`, [h / 4]],
      [`${p}.self_attn.v_proj.weight`, [h / 4, h]],
      [`${p}.self_attn.v_proj.bias`, [h / 4]],
      [`${p}.self_attn.o_proj.weight`, [h, h]],
      [`${p}.post_attention_layernorm.weight`, [h]],
      [`${p}.mlp.gate_proj.weight`, [inter, h]],
      [`${p}.mlp.up_proj.weight`, [inter, h]],
      [`${p}.mlp.down_proj.weight`, [h, inter]],
    );
  }
  shapes.push(['model.norm.weight', [h]], ['lm_head.weight', [vocab, h]]);
  const tensors = shapes.map(([name, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const base = seededRandom((like ?? seed) * 1000 + i);
    const noise = seededRandom(seed * 7777 + i);
    // Quantised values make ties common in f16/bf16, which exercises trimming at the threshold.
    const v = Float32Array.from(
      { length: n },
      () => Math.round((base() - 0.5) * 64) / 64 + (like !== undefined ? Math.round((noise() - 0.5) * 16) / 512 : 0),
    );
    return { name, dtype, shape, bytes: encodeFromF32(v, dtype) };
  });
  mkdirSync(dir, { recursive: true });
  const half = Math.ceil(tensors.length / 2);
  const weightMap: Record<string, string> = {};
  [tensors.slice(0, half), tensors.slice(half)].forEach((part, s) => {
    const file = `model-0000${s + 1}-of-00002.safetensors`;
    for (const t of part) weightMap[t.name] = file;
    writeFileSync(path.join(dir, file), safetensors(part));
  });
  writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  const torchDtype = dtype === 'F32' ? 'float32' : dtype === 'F16' ? 'float16' : 'bfloat16';
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      hidden_size: h,
      intermediate_size: inter,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      vocab_size: vocab,
      tie_word_embeddings: false,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      max_position_embeddings: 128,
      torch_dtype: torchDtype,
    }),
  );
}

// ---------------------------------------------------------------- recipes

interface Family {
  name: string;
  base: string;
  a: string;
  b: string;
  /** Linear weights of the family, for synthetic AIM statistics. */
  aimStats?: string;
}

// Model paths are relative to the work folder, where the recipes are written.
for (const m of ['demo-quick', 'demo-slow', 'demo-base'])
  symlinkSync(path.join(ROOT, 'public/models', m), path.join(work, m));
const families: Family[] = [{ name: 'demo', base: 'demo-quick', a: 'demo-slow', b: 'demo-base' }];
for (const dtype of ['F32', 'F16', 'BF16'] as DType[]) {
  const d = `gen-${dtype}`;
  writeModel(path.join(work, d, 'base'), dtype, 1);
  writeModel(path.join(work, d, 'a'), dtype, 2, 1);
  writeModel(path.join(work, d, 'b'), dtype, 3, 1);
  families.push({ name: `gen-${dtype.toLowerCase()}`, base: `${d}/base`, a: `${d}/a`, b: `${d}/b` });
}

function aimStatsFile(fam: Family): string {
  const file = `${fam.name}-aim.json`;
  const header = JSON.parse(readFileSync(path.join(work, fam.base, 'config.json'), 'utf8')) as {
    hidden_size: number;
    intermediate_size: number;
    num_hidden_layers: number;
  };
  const channels: Record<string, number[]> = {};
  const rnd = seededRandom(99);
  for (let l = 0; l < header.num_hidden_layers; l++) {
    for (const p of [
      'self_attn.q_proj',
      'self_attn.k_proj',
      'self_attn.v_proj',
      'self_attn.o_proj',
      'mlp.gate_proj',
      'mlp.up_proj',
    ])
      channels[`model.layers.${l}.${p}.weight`] = Array.from({ length: header.hidden_size }, () => rnd());
    channels[`model.layers.${l}.mlp.down_proj.weight`] = Array.from({ length: header.intermediate_size }, () => rnd());
  }
  const stats = {
    format: 'merge-lab-activation-stats',
    version: 1,
    model: fam.base,
    calibration: { set: 'synthetic', samples: 1, tokens: 1 },
    channels,
  };
  writeFileSync(path.join(work, file), JSON.stringify(stats));
  return file;
}

function recipes(fam: Family): Record<string, string> {
  const two = (method: string, params: string, top = '', extra = '') =>
    `merge_method: ${method}\nbase_model: ${fam.base}\nmodels:\n  - model: ${fam.a}\n    parameters: {${params}}\n  - model: ${fam.b}\n    parameters: {${params.replace('weight: 0.7', 'weight: 0.4')}}\n${top ? `parameters: {${top}}\n` : ''}${extra}`;
  return {
    linear: `merge_method: linear\nmodels:\n  - model: ${fam.base}\n    parameters: {weight: 0.3}\n  - model: ${fam.a}\n    parameters: {weight: 0.7}\n`,
    task_arithmetic: two('task_arithmetic', 'weight: 0.7'),
    task_arithmetic_gradient: two('task_arithmetic', 'weight: [0.2, 0.9, 0.5]', 'lambda: 0.9'),
    ties: two('ties', 'weight: 0.7, density: 0.3', 'lambda: 1.0'),
    ties_unnormalized: two('ties', 'weight: 0.7, density: 0.5', 'normalize: false'),
    dare_linear: two('dare_linear', 'weight: 0.7, density: 0.4', '', 'random_seed: 7\n'),
    dare_ties: two('dare_ties', 'weight: 0.7, density: 0.4', 'rescale: false', 'random_seed: 3\n'),
    breadcrumbs: two('breadcrumbs', 'weight: 0.7, density: 0.6, gamma: 0.05'),
    breadcrumbs_ties: two('breadcrumbs_ties', 'weight: 0.7, density: 0.6, gamma: 0.05'),
    slerp: `merge_method: slerp\nbase_model: ${fam.base}\nmodels:\n  - model: ${fam.base}\n  - model: ${fam.a}\nparameters: {t: [0.1, 0.6]}\n`,
    tsv: two('tsv', 'weight: 0.7', 'rank: 4'),
    iso_c: two('iso_c', 'weight: 0.7', 'rank: 8'),
    iso_cts: two('iso_cts', 'weight: 0.7', 'rank: 8, common_fraction: 0.75'),
    lore: two('lore', 'weight: 0.7', 'rank: 8, mu: 0.1, iterations: 2'),
    twin: two('twin', 'weight: 0.7', 'rank: 4'),
    low_rank_task_arithmetic: two('low_rank_task_arithmetic', 'weight: 0.7', 'rank: 8, energy: 0.9'),
    aim_ties: two('ties', 'weight: 0.7, density: 0.3', '', `aim: {omega: 0.4, calibration: ${aimStatsFile(fam)}}\n`),
    f16_out: `${two('task_arithmetic', 'weight: 0.7')}dtype: float16\n`,
  };
}

// ---------------------------------------------------------------- run

const hashes: Record<string, string> = {};
const backends = values.backends!.split(',');
for (const fam of families) {
  for (const [name, yaml] of Object.entries(recipes(fam))) {
    for (const backend of backends) {
      const recipeFile = path.join(work, `${fam.name}-${name}.yml`);
      writeFileSync(recipeFile, yaml);
      const out = path.join(work, 'out');
      rmSync(out, { recursive: true, force: true });
      const key = `${fam.name}/${name}/${backend}`;
      try {
        execFileSync(
          process.execPath,
          [
            '--import',
            'tsx',
            path.join(ROOT, 'src/cli/main.ts'),
            'merge',
            recipeFile,
            '--out',
            out,
            '--backend',
            backend,
          ],
          { stdio: 'pipe', cwd: ROOT },
        );
        const h = createHash('sha256');
        for (const f of readdirSync(out).sort()) h.update(f).update(readFileSync(path.join(out, f)));
        hashes[key] = h.digest('hex').slice(0, 16);
      } catch (e) {
        hashes[key] = `error: ${String((e as { stderr?: Buffer }).stderr ?? e)
          .trim()
          .split('\n')
          .pop()}`;
      }
      process.stdout.write(`${key.padEnd(48)} ${hashes[key]}\n`);
    }
  }
}
rmSync(work, { recursive: true, force: true });
if (values.out) writeFileSync(values.out, `${JSON.stringify(hashes, null, 1)}\n`);
if (values.compare) {
  const old = JSON.parse(readFileSync(values.compare, 'utf8')) as Record<string, string>;
  const diff = Object.keys({ ...old, ...hashes }).filter((k) => old[k] !== hashes[k]);
  for (const k of diff) console.log(`DIFFERS ${k}: ${old[k]} → ${hashes[k]}`);
  console.log(`${Object.keys(hashes).length - diff.length} identical, ${diff.length} differ`);
  process.exit(diff.length ? 1 : 0);
}
