/**
 * Building the unified (OpenAI chat.completion) answer from another provider's response: the body,
 * its usage object, and the parse guard every translator needs.
 */
import { GatewayError } from '../../errors/catalog.ts';
import type { Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface UnifiedToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface UnifiedMessage {
  content: string | null;
  reasoning_content?: string;
  tool_calls?: UnifiedToolCall[];
  refusal?: string | null;
}

/** The usage object unified callers receive, from the usage Tollbooth meters. */
export function openAIUsage(usage: Usage): Record<string, unknown> {
  return {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.prompt_tokens + usage.completion_tokens,
    prompt_tokens_details: { cached_tokens: usage.cached_tokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoning_tokens },
  };
}

export function chatCompletion(id: string, model: string, message: UnifiedMessage, finishReason: FinishReason, usage: Usage | null): string {
  const { content, reasoning_content, tool_calls, refusal = null } = message;
  return JSON.stringify({
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content,
          refusal,
          ...(reasoning_content ? { reasoning_content } : {}),
          ...(tool_calls && tool_calls.length > 0 ? { tool_calls } : {}),
        },
        finish_reason: finishReason,
        logprobs: null,
      },
    ],
    ...(usage ? { usage: openAIUsage(usage) } : {}),
  });
}

/** Parses an upstream JSON body; a body that is not a JSON object is the upstream's fault (502, retryable). */
export function parseUpstreamJson(target: Target, raw: Uint8Array): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    parsed = null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GatewayError('upstream_bad_response', `${target.provider.display_name} returned a body that is not a JSON object.`, {
      details: { provider: target.provider.name },
    });
  }
  return parsed as Record<string, unknown>;
}

/** Parses one stream event's data; null for anything that is not a JSON object. */
export function parseEvent(data: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
