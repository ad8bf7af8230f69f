/**
 * The token budget an evaluation will actually need, for the memory plan before loading: the
 * longest prompt of the problems it will run (as the model reads them: chat template, few-shot
 * examples, the same problem selection as src/core/eval/run.ts) plus the new tokens allowed.
 */
import type { ProblemSet } from '../core/eval/problem-set';
import { DEFAULT_PROMPT, type PromptStyle, buildMessages, spread } from '../core/eval/run';
import { promptTextOf } from './engine';
import type { ChatTokenizer } from './tokenizer';

export interface PlannedEvaluation {
  set: ProblemSet;
  /** Problems evaluated (evenly spread over the set, as `evaluate` picks them); default all. */
  limit?: number;
  maxNewTokens: number;
  prompt?: PromptStyle;
}

/** `promptTokens`: the longest tokenized prompt; `tokenBudget`: that plus maxNewTokens. */
export function evalTokenBudget(
  tokenizer: ChatTokenizer,
  e: PlannedEvaluation,
): { promptTokens: number; tokenBudget: number } {
  const style = e.prompt ?? DEFAULT_PROMPT;
  // The selection of evaluate(): few-shot examples from the head of the set, the rest spread over `limit`.
  const examples = e.set.problems.slice(0, style.fewShot);
  const problems = spread(e.set.problems.slice(style.fewShot), e.limit);
  let promptTokens = 1;
  for (const p of problems) {
    const text = promptTextOf(tokenizer, buildMessages(p, style, examples), true);
    promptTokens = Math.max(promptTokens, tokenizer.encode(text).length);
  }
  return { promptTokens, tokenBudget: promptTokens + e.maxNewTokens };
}
