/**
 * Cohere v2 chat response → OpenAI chat.completion: text content → content (or, with tool calls
 * and no text, the tool_plan), thinking content → reasoning_content, tool_calls as they are,
 * finish_reason COMPLETE/STOP_SEQUENCE → stop, MAX_TOKENS → length, TOOL_CALL → tool_calls.
 */
import { GatewayError } from '../../errors/catalog.ts';
import type { Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { chatCompletion, type FinishReason, type UnifiedToolCall } from '../unified/completion.ts';
import { usageFromCohere } from './usage.ts';

interface CohereMessage {
  content?: { type?: string; text?: string; thinking?: string }[];
  tool_plan?: string;
  tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[];
}

export function completionFromChat(target: Target, body: Record<string, unknown>): { body: string; usage: Usage | null } {
  const reason = body.finish_reason;
  if (failed(reason)) throw generationFailed(target, reason, body.error);
  const message = (body.message ?? {}) as CohereMessage;
  let text: string | null = null;
  let reasoning = '';
  for (const block of message.content ?? []) {
    if (block.type === 'text') text = (text ?? '') + (block.text ?? '');
    else if (block.type === 'thinking') reasoning += block.thinking ?? '';
  }
  const toolCalls: UnifiedToolCall[] = (message.tool_calls ?? []).map((c) => ({
    id: c.id ?? '',
    type: 'function',
    function: { name: c.function?.name ?? '', arguments: c.function?.arguments ?? '{}' },
  }));
  if (text === null && toolCalls.length > 0 && message.tool_plan) text = message.tool_plan;
  const usage = usageFromCohere(body.usage);
  const id = typeof body.id === 'string' ? body.id : 'chat';
  return {
    body: chatCompletion(id, target.upstreamModel, { content: text, reasoning_content: reasoning || undefined, tool_calls: toolCalls }, finishReason(reason), usage),
    usage,
  };
}

export function finishReason(reason: unknown): FinishReason {
  switch (reason) {
    case 'MAX_TOKENS':
      return 'length';
    case 'TOOL_CALL':
      return 'tool_calls';
    default:
      // COMPLETE, STOP_SEQUENCE
      return 'stop';
  }
}

/** ERROR and TIMEOUT end a generation that did not complete (v2 finish reasons). */
export function failed(reason: unknown): boolean {
  return reason === 'ERROR' || reason === 'TIMEOUT';
}

export function generationFailed(target: Target, reason: unknown, error: unknown): GatewayError {
  const detail = typeof error === 'string' && error.length > 0 ? `: ${error}` : '';
  return new GatewayError('upstream_error', `Cohere ended the generation with ${String(reason)}${detail}.`, {
    details: { provider: target.provider.name, upstream_code: String(reason) },
  });
}
