/**
 * The Responses API on a provider that does not serve it: one adapter composed around the
 * provider's own (unified) one. Responses request → unified chat → provider; provider → unified
 * chat → Response (or its event stream). No per-provider code; usage is what that adapter reads.
 */
import type { Target } from '../../routing/target.ts';
import type { ProviderAdapter } from '../contract.ts';
import { createAdapter } from '../registry.ts';
import { chatFromResponses } from './request.ts';
import { responseFromCompletion } from './response.ts';
import { ResponsesStream } from './stream.ts';

/** `request`: the caller's Responses body (its settings are echoed); `model`: the name the caller asked for. */
export function responsesBridge(target: Target, request: Record<string, unknown>, model: string): ProviderAdapter {
  const inner = createAdapter(target);
  return {
    ...inner,
    request: (_operation, body) => inner.request('chat', chatFromResponses(body, target)),
    response(_operation, raw, context) {
      const translated = inner.response('chat', raw, context);
      const completion = JSON.parse(Buffer.from(translated.body).toString('utf8'));
      return { body: JSON.stringify(responseFromCompletion(completion, request, model, translated.usage)), usage: translated.usage };
    },
    stream: (_operation, context) => new ResponsesStream(inner.stream('chat', context), request, model),
  };
}
