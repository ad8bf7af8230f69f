/** Every fuzzed format, in the order the slice and the campaign run them. */
import type { FuzzTarget } from '../target';
import { checkpointTarget, configTarget } from './checkpoint';
import { recipeTarget, shareTarget } from './recipe';
import { safetensorsDemoBytesTarget, safetensorsHeaderTarget } from './safetensors';
import { activationStatsTarget, problemSetTarget } from './statistics';
import { chatTemplateTarget, tokenizerTarget } from './tokenizer';

export const FUZZ_TARGETS: readonly FuzzTarget<never>[] = [
  safetensorsHeaderTarget,
  safetensorsDemoBytesTarget,
  checkpointTarget,
  configTarget,
  tokenizerTarget,
  chatTemplateTarget,
  recipeTarget,
  shareTarget,
  problemSetTarget,
  activationStatsTarget,
] as readonly FuzzTarget<unknown>[] as readonly FuzzTarget<never>[];

export function targetNamed(name: string): FuzzTarget<unknown> {
  const t = FUZZ_TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target named '${name}'`);
  return t as FuzzTarget<unknown>;
}
