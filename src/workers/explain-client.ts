/**
 * The page's handle on the explain worker: one worker, started on the first explanation asked for.
 * The recipe must be plain data (a Svelte state proxy cannot cross to a worker: snapshot it first).
 */
import { type Remote, wrap } from 'comlink';
import type { Explanation, ExplanationError } from '../core/merge/explain/types';
import type { Recipe } from '../core/recipe/types';
import { installLabErrorTransfer } from './errors';
import type { ExplainWorkerApi } from './explain.worker';

installLabErrorTransfer();

let remote: Remote<ExplainWorkerApi> | undefined;

/** The toy explanation of `recipe`'s method, or why the engine refuses the toy recipe. */
export function explainInWorker(recipe: Recipe): Promise<Explanation | ExplanationError> {
  remote ??= wrap<ExplainWorkerApi>(
    new Worker(new URL('./explain.worker.ts', import.meta.url), { type: 'module', name: 'explain' }),
  );
  return remote.explain(recipe);
}
