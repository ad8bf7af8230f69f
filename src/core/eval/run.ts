/**
 * The one entry point for an evaluation: run every model on every problem of a set, keep every
 * response, score it, and compute the metrics. Models are anything that can complete a chat
 * (src/infer's generator in practice); the runner knows nothing of ONNX or workers. A run that
 * fails or is cancelled partway keeps what finished, for its caller to save (finishedBefore).
 */
import { describeError, throwIfAborted } from '../errors';
import { answersMatch, extractAnswer } from './extract';
import { type ResponseRecord, type SetMetrics, type StopReason, computeMetrics } from './metrics';

export type { StopReason };
import { type Problem, type ProblemSet, ProblemSetError } from './problem-set';

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface Completion {
  readonly text: string;
  /** Generated tokens, EOS excluded. */
  readonly tokens: number;
  /** Cut short by a limit (new tokens or context), not ended by the model. */
  readonly hitLimit: boolean;
  readonly stop?: StopReason;
}

/** A completion's end from its stop reason: a model that never emits EOS is cut by one of the two limits. */
export function completionEnd(stop: StopReason): { hitLimit: boolean; stop: StopReason } {
  return { hitLimit: stop === 'max-new-tokens' || stop === 'context', stop };
}

export interface CompletionModel {
  readonly name: string;
  complete(
    messages: readonly ChatMessage[],
    opts: { maxNewTokens: number; signal?: AbortSignal; onText?: (textSoFar: string) => void },
  ): Promise<Completion>;
  /**
   * Many conversations at once (batched generation), when the model can: completions in the
   * conversations' order, each reported as it finishes; `tokPerS` is the batch's aggregate.
   */
  completeMany?(
    conversations: readonly (readonly ChatMessage[])[],
    opts: {
      maxNewTokens: number;
      signal?: AbortSignal;
      onText?: (index: number, textSoFar: string) => void;
      onCompletion?: (index: number, c: Completion) => void;
    },
  ): Promise<{ completions: Completion[]; tokPerS: number }>;
}

export interface PromptStyle {
  /** The user turn; `{question}` is replaced by the problem. */
  readonly template: string;
  /** Solved examples shown before the question (System 1 models in the paper: few-shot). */
  readonly fewShot: number;
}

export const DEFAULT_PROMPT: PromptStyle = { template: '{question}', fewShot: 0 };

export interface EvalOptions {
  /** Evaluate this many problems, spread evenly over the set (sets are often sorted by difficulty). */
  readonly limit?: number;
  readonly maxNewTokens: number;
  readonly signal?: AbortSignal;
  /** Answer every problem through the model's `completeMany` (batched generation) when it has one. */
  readonly batched?: boolean;
  onProgress?(p: { done: number; total: number; model: string; problem: string }): void;
  onResponse?(model: string, r: ResponseRecord): void;
  onText?(model: string, problemId: string, textSoFar: string): void;
}

export interface ModelResult {
  readonly name: string;
  readonly prompt: PromptStyle;
  readonly responses: readonly ResponseRecord[];
  readonly metrics: SetMetrics;
  /** Batched runs: every new token over the run's wall time, all sequences together. */
  readonly tokPerS?: number;
}

export interface EvalRun {
  readonly set: { readonly name: string; readonly problems: number; readonly fewShotHeldOut: number };
  readonly maxNewTokens: number;
  readonly models: readonly ModelResult[];
  readonly ms: number;
  /** A run that stopped partway (finishedBefore): why, and how many of its responses finished. */
  readonly unfinished?: { readonly reason: string; readonly responses: number; readonly of: number };
}

export function buildMessages(problem: Problem, style: PromptStyle, examples: readonly Problem[]): ChatMessage[] {
  const user = (q: string): ChatMessage => ({ role: 'user', content: style.template.replaceAll('{question}', q) });
  const shots = examples
    .slice(0, style.fewShot)
    .flatMap((e) => [user(e.question), { role: 'assistant', content: `The answer is ${e.answer}.` } as ChatMessage]);
  return [...shots, user(problem.question)];
}

/** `limit` items evenly spaced over the list (all of it without a limit), in order. */
export function spread<T>(items: readonly T[], limit?: number): T[] {
  if (limit === undefined || limit >= items.length) return [...items];
  return Array.from({ length: Math.max(0, limit) }, (_, i) => items[Math.floor((i * items.length) / limit)]!);
}

export async function evaluate(
  entries: readonly { model: CompletionModel; prompt?: PromptStyle }[],
  set: ProblemSet,
  opts: EvalOptions,
): Promise<EvalRun> {
  const started = Date.now();
  // Few-shot examples come from the head of the set and are scored for no model, so every model sees the same problems.
  const heldOut = Math.max(0, ...entries.map((e) => e.prompt?.fewShot ?? 0));
  const examples = set.problems.slice(0, heldOut);
  const problems = spread(set.problems.slice(heldOut), opts.limit);
  if (problems.length === 0)
    throw new ProblemSetError(
      'no-problems',
      set.name,
      `no problems left to evaluate after ${heldOut} few-shot examples`,
    );
  const total = problems.length * entries.length;
  let done = 0;
  const models: ModelResult[] = [];
  const runSoFar = (): EvalRun => ({
    set: { name: set.name, problems: problems.length, fewShotHeldOut: heldOut },
    maxNewTokens: opts.maxNewTokens,
    models,
    ms: Date.now() - started,
  });
  /** The model being evaluated and its finished responses by problem index. */
  let current: { name: string; prompt: PromptStyle; finished: Map<number, ResponseRecord> } | undefined;
  try {
    for (const { model, prompt = DEFAULT_PROMPT } of entries) {
      const finished = new Map<number, ResponseRecord>();
      current = { name: model.name, prompt, finished };
      const record = (p: Problem, c: Completion): ResponseRecord => {
        const ex = extractAnswer(c.text);
        return {
          problemId: p.id,
          ...(p.level !== undefined ? { level: p.level } : {}),
          text: c.text,
          tokens: c.tokens,
          hitLimit: c.hitLimit,
          ...(c.stop ? { stop: c.stop } : {}),
          extracted: ex.answer,
          rule: ex.rule,
          correct: answersMatch(ex.answer, p.answer),
        };
      };
      if (opts.batched && model.completeMany) {
        // Records in the problems' order; progress and responses as each answer finishes.
        throwIfAborted(opts.signal, 'evaluation');
        opts.onProgress?.({ done, total, model: model.name, problem: problems[0]!.id });
        const onText = opts.onText;
        const many = await model.completeMany(
          problems.map((p) => buildMessages(p, prompt, examples)),
          {
            maxNewTokens: opts.maxNewTokens,
            ...(opts.signal ? { signal: opts.signal } : {}),
            ...(onText ? { onText: (i: number, t: string) => onText(model.name, problems[i]!.id, t) } : {}),
            onCompletion: (i, c) => {
              const r = record(problems[i]!, c);
              finished.set(i, r);
              opts.onResponse?.(model.name, r);
              done++; // not inside the call below: `?.` skips its arguments without onProgress
              opts.onProgress?.({ done, total, model: model.name, problem: problems[i]!.id });
            },
          },
        );
        const responses = many.completions.map((c, i) => record(problems[i]!, c));
        models.push({ name: model.name, prompt, responses, metrics: computeMetrics(responses), tokPerS: many.tokPerS });
        continue;
      }
      const responses: ResponseRecord[] = [];
      for (const [i, p] of problems.entries()) {
        opts.onProgress?.({ done, total, model: model.name, problem: p.id });
        throwIfAborted(opts.signal, 'evaluation');
        const c = await model.complete(buildMessages(p, prompt, examples), {
          maxNewTokens: opts.maxNewTokens,
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onText ? { onText: (t: string) => opts.onText!(model.name, p.id, t) } : {}),
        });
        const r = record(p, c);
        responses.push(r);
        finished.set(i, r);
        opts.onResponse?.(model.name, r);
        done++;
      }
      models.push({ name: model.name, prompt, responses, metrics: computeMetrics(responses) });
    }
    current = undefined;
  } catch (e) {
    // Keep what finished: the models done, and the current model's complete responses in problem order.
    const kept = [...(current?.finished ?? [])].sort(([a], [b]) => a - b).map(([, r]) => r);
    if (current && kept.length)
      models.push({ name: current.name, prompt: current.prompt, responses: kept, metrics: computeMetrics(kept) });
    if (typeof e === 'object' && e !== null)
      unfinishedRuns.set(e, { ...runSoFar(), unfinished: { reason: describeError(e), responses: done, of: total } });
    throw e;
  }
  opts.onProgress?.({ done, total, model: '', problem: '' });
  return runSoFar();
}

const unfinishedRuns = new WeakMap<object, EvalRun>();

/**
 * What an evaluation that failed (or was cancelled) with `e` had finished: the models done, the
 * complete responses of the one in progress, and `unfinished` saying why and how far it got; for
 * saving and showing. Undefined for an error that did not come out of evaluate().
 */
export function finishedBefore(e: unknown): EvalRun | undefined {
  return typeof e === 'object' && e !== null ? unfinishedRuns.get(e) : undefined;
}
