/**
 * The Recipe step's toy explanations (src/core/merge/explain), computed here so that the page's
 * main thread never runs a merge, not even an 8-element one.
 */
import { expose } from 'comlink';
import { explainRecipe } from '../core/merge/explain/explain';
import { installLabErrorTransfer } from './errors';

installLabErrorTransfer();

const api = { explain: explainRecipe };
export type ExplainWorkerApi = typeof api;

expose(api);
