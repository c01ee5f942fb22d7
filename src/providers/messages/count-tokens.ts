/**
 * POST /v1/messages/count_tokens off Anthropic. Gemini counts natively (models/…:countTokens, the
 * Messages request bridged to a generateContent request first); for every other provider the count
 * is an estimate, ≈4 characters per token over what the request would send (system, messages,
 * tools), marked `x-tollbooth-token-count: estimated`. Counting is never billed.
 */
import { estimateTokens, reported } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import type { ProviderAdapter } from '../contract.ts';
import { createAdapter } from '../registry.ts';
import { parseUpstreamJson } from '../unified/completion.ts';
import { chatFromMessages } from './request.ts';

export function estimateInputTokens(body: Record<string, unknown>): number {
  const parts = [body.system, body.messages, body.tools].filter((p) => p !== undefined);
  const chars = parts.reduce<number>((n, p) => n + (typeof p === 'string' ? p.length : JSON.stringify(p).length), 0);
  return estimateTokens(chars);
}

/** Gemini's countTokens for a Messages body: `{totalTokens}` back as `{input_tokens}`. */
export function geminiTokenCount(target: Target): ProviderAdapter {
  const gemini = createAdapter(target);
  return {
    ...gemini,
    request(_operation, body) {
      const up = gemini.request('chat', chatFromMessages({ ...body, stream: false }, target));
      const generate = JSON.parse(String(up.body)) as Record<string, unknown>;
      return {
        ...up,
        path: up.path.replace(/:generateContent$/, ':countTokens'),
        body: JSON.stringify({ generateContentRequest: { model: `models/${target.upstreamModel}`, ...generate } }),
      };
    },
    response: (_operation, raw) => ({ body: JSON.stringify({ input_tokens: parseUpstreamJson(target, raw).totalTokens ?? 0 }), usage: reported(0, 0) }),
  };
}
