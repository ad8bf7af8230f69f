/**
 * Bundles the device check's JavaScript for bench/device-pack.sh: the `merge-lab` CLI
 * (src/cli/main.ts) and the device check's steps (./main.ts), each into one plain ES module that
 * Node runs with no node_modules beside it but the two packages kept external:
 * - `webgpu` (Dawn's native dawn.node) and `onnxruntime-web` (which loads its wasm files and glue
 *   relative to its own dist folder) are imported at run time from the pack's own node_modules;
 * - the WGSL shaders are inlined (src/gpu/shaders.ts reads them through `import.meta.glob`, defined
 *   here as a function that returns them), and CommonJS dependencies get a `require`;
 * - a bundled module's "run as a script" guard (`process.argv[1] … === fileURLToPath(import.meta.url)`,
 *   e.g. tools/random-qwen.ts) would see the bundle's URL and run: it is made false.
 *   npx tsx bench/device/bundle.ts OUT_DIR
 */
import { type Plugin, build } from 'esbuild';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const out = process.argv[2];
if (!out) throw new Error('usage: npx tsx bench/device/bundle.ts OUT_DIR');

const shaderDir = path.join(ROOT, 'shaders');
const shaders = Object.fromEntries(
  readdirSync(shaderDir)
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => [`../../shaders/${f}`, readFileSync(path.join(shaderDir, f), 'utf8')]),
);
const banner = [
  "import { createRequire as __deviceCreateRequire } from 'node:module';",
  'const require = __deviceCreateRequire(import.meta.url);',
  `const __deviceShaderGlob = () => (${JSON.stringify(shaders)});`,
].join('\n');

const SCRIPT_GUARD = /(process\.argv\[1\][^\n]*?===\s*)fileURLToPath\(import\.meta\.url\)/g;
/** Turns off the script-mode guards of bundled modules (not the entry's own code). */
const noScriptGuards = (entry: string): Plugin => ({
  name: 'no-script-guards',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const contents = text.replace(SCRIPT_GUARD, "$1'(bundled)'");
      return args.path === entry || contents === text ? undefined : { contents, loader: 'ts' };
    });
  },
});

for (const [entry, file] of [
  ['src/cli/main.ts', 'merge-lab.mjs'],
  ['bench/device/main.ts', 'device-check.mjs'],
] as const) {
  await build({
    entryPoints: [path.join(ROOT, entry)],
    outfile: path.join(out, file),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu', 'onnxruntime-web'],
    define: { 'import.meta.glob': '__deviceShaderGlob' },
    banner: { js: banner },
    legalComments: 'none',
    plugins: [noScriptGuards(path.join(ROOT, entry))],
    logLevel: 'warning',
  });
}
