/** A ChatModel as the evaluation runner's CompletionModel (greedy decoding, as the paper evaluates). */
import { type CompletionModel, completionEnd } from '../core/eval/run';
import type { ChatModel } from './engine';

export function completionModel(model: ChatModel, name = model.name): CompletionModel {
  return {
    name,
    async complete(messages, opts) {
      let text = '';
      const r = await model.ask(messages, {
        maxNewTokens: opts.maxNewTokens,
        temperature: 0,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onText
          ? {
              onToken: (t: { text: string }) => {
                text += t.text;
                opts.onText!(text);
              },
            }
          : {}),
      });
      return { text: r.text, tokens: r.ids.length, ...completionEnd(r.finishReason) };
    },
  };
}
