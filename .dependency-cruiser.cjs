/**
 * Import boundaries that keep the architecture visible (README, "Layout"); checked by scripts/test.sh.
 * @type {import('dependency-cruiser').IConfiguration}
 */
const ENGINE_RUNTIME = '^src/(gpu|infer|node|cli)/';
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment:
        'src/core is plain TypeScript that runs in Node, workers and tests: no GPU, runtime, UI or platform code.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(gpu|infer|workers|ui|node|browser|cli)/' },
    },
    {
      name: 'core-has-no-node-builtins',
      comment: 'src/core runs in the browser too.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'ui-reaches-engine-through-workers',
      comment: 'The UI runs merges and inference through src/workers clients; it may import engine types only.',
      severity: 'error',
      from: { path: '^src/ui/' },
      to: {
        path: `${ENGINE_RUNTIME}|^src/workers/[^/]+\\.worker\\.ts$|^src/core/merge/(execute|plan|cpu-backend|explain/explain)\\.ts$`,
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'browser-code-stays-out-of-node',
      comment: 'src/node and src/cli run in Node; src/browser, src/ui and src/workers run in the page.',
      severity: 'error',
      from: { path: '^src/(node|cli)/' },
      to: { path: '^src/(browser|ui|workers)/' },
    },
    {
      name: 'node-code-stays-out-of-the-page',
      severity: 'error',
      from: { path: '^src/(browser|ui|workers|gpu|infer)/' },
      to: { path: '^src/(node|cli)/' },
    },
    {
      name: 'engine-never-imports-ui',
      severity: 'error',
      from: { path: '^src/(core|gpu|infer|workers|browser|node|cli)/' },
      to: { path: '^src/ui/' },
    },
    {
      name: 'no-circular',
      comment: 'Import cycles hide the data path; break them by moving shared types down.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.svelte'],
    },
  },
};
