/**
 * The Messages API on a provider that does not speak it: one adapter composed around the
 * provider's own (unified) one. Messages request → unified chat → provider; provider → unified
 * chat → Message (or its event stream). No per-provider code: every provider's chat adapter is
 * reached the same way, and usage is what that adapter reads.
 */
import type { Target } from '../../routing/target.ts';
import type { ProviderAdapter } from '../contract.ts';
import { createAdapter } from '../registry.ts';
import { chatFromMessages } from './request.ts';
import { messageFromCompletion } from './response.ts';
import { MessagesStream } from './stream.ts';

/** `model`: the name the caller asked for, which the answer carries back. */
export function messagesBridge(target: Target, model: string): ProviderAdapter {
  const inner = createAdapter(target);
  return {
    ...inner,
    request: (_operation, body) => inner.request('chat', chatFromMessages(body, target)),
    response(_operation, raw, context) {
      const translated = inner.response('chat', raw, context);
      const completion = JSON.parse(Buffer.from(translated.body).toString('utf8'));
      return { body: JSON.stringify(messageFromCompletion(completion, model, translated.usage)), usage: translated.usage };
    },
    stream: (_operation, context) => new MessagesStream(inner.stream('chat', context), model),
  };
}
