/**
 * A token count for providers that offer none through the Messages API: ≈4 characters per token
 * over the text a request would send (system, messages, tool definitions). Marked as an estimate
 * in the answer's `x-tollbooth-token-count: estimated` header.
 */
import { estimateTokens } from '../../metering/usage.ts';

export function estimateInputTokens(body: Record<string, unknown>): number {
  const parts = [body.system, body.messages, body.tools].filter((p) => p !== undefined);
  const chars = parts.reduce<number>((n, p) => n + (typeof p === 'string' ? p.length : JSON.stringify(p).length), 0);
  return estimateTokens(chars);
}
