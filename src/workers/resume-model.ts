/**
 * Resuming an interrupted evaluation: a completion model that answers the problems already
 * answered from their recorded responses and runs the model only on the others. The evaluation
 * entry point (src/core/eval/run.ts) then scores every response as usual, so a resumed run's
 * records equal an uninterrupted one's (greedy answers are deterministic, at any batch size).
 * Problems are recognised by the conversation the runner builds for them.
 */
import type { ResponseRecord } from '../core/eval/metrics';
import type { Problem } from '../core/eval/problem-set';
import {
  type ChatMessage,
  type Completion,
  type CompletionModel,
  DEFAULT_PROMPT,
  type PromptStyle,
  buildMessages,
} from '../core/eval/run';

const keyOf = (messages: readonly ChatMessage[]) => JSON.stringify(messages);

/** The completion a record was made from: the record less what scoring added (evaluate scores it again). */
function completionOf(r: ResponseRecord): Completion {
  const { problemId: _p, level: _l, extracted: _e, rule: _r, correct: _c, ...completion } = r;
  return completion;
}

/**
 * The recorded completions of `model`, keyed by the conversation of their problem (as `evaluate`
 * builds it: `heldOut` few-shot examples from the head of the set, then the prompt style).
 */
export function recordedCompletions(
  problems: readonly Problem[],
  heldOut: number,
  prompt: PromptStyle = DEFAULT_PROMPT,
  records: readonly ResponseRecord[],
): Map<string, Completion> {
  const byId = new Map(records.map((r) => [r.problemId, r]));
  const examples = problems.slice(0, heldOut);
  const out = new Map<string, Completion>();
  for (const p of problems.slice(heldOut)) {
    const r = byId.get(p.id);
    if (r) out.set(keyOf(buildMessages(p, prompt, examples)), completionOf(r));
  }
  return out;
}

/** `model`, answering the conversations in `recorded` from there. */
export function resumingModel(model: CompletionModel, recorded: ReadonlyMap<string, Completion>): CompletionModel {
  if (recorded.size === 0) return model;
  const many = model.completeMany?.bind(model);
  return {
    name: model.name,
    async complete(messages, opts) {
      return recorded.get(keyOf(messages)) ?? model.complete(messages, opts);
    },
    ...(many && {
      async completeMany(conversations, opts) {
        const completions: (Completion | undefined)[] = conversations.map((c) => recorded.get(keyOf(c)));
        const todo = completions.flatMap((c, i) => (c ? [] : [i]));
        completions.forEach((c, i) => c && opts.onCompletion?.(i, c));
        if (todo.length === 0) return { completions: completions as Completion[], tokPerS: 0 };
        const rest = await many(
          todo.map((i) => conversations[i]!),
          {
            maxNewTokens: opts.maxNewTokens,
            ...(opts.signal && { signal: opts.signal }),
            ...(opts.onText && { onText: (j: number, t: string) => opts.onText!(todo[j]!, t) }),
            onCompletion: (j, c) => opts.onCompletion?.(todo[j]!, c),
          },
        );
        rest.completions.forEach((c, j) => (completions[todo[j]!] = c));
        return { completions: completions as Completion[], tokPerS: rest.tokPerS };
      },
    }),
  };
}
