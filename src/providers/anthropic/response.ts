/**
 * Anthropic Message → OpenAI chat.completion: text blocks → content, tool_use → tool_calls
 * (arguments = the JSON text of `input`), thinking → reasoning_content, stop_reason → finish_reason.
 */
import type { Usage } from '../../metering/usage.ts';
import { chatCompletion, type FinishReason, type UnifiedToolCall } from '../unified/completion.ts';
import { usageFromAnthropic } from './usage.ts';

interface Block {
  type?: string;
  text?: string;
  thinking?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

export function completionFromMessage(message: Record<string, unknown>, fallbackModel: string): { body: string; usage: Usage | null } {
  let text: string | null = null;
  let reasoning = '';
  const toolCalls: UnifiedToolCall[] = [];
  for (const block of (Array.isArray(message.content) ? message.content : []) as Block[]) {
    if (block.type === 'text') text = (text ?? '') + (block.text ?? '');
    else if (block.type === 'thinking') reasoning += block.thinking ?? '';
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id ?? '', type: 'function', function: { name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  const usage = usageFromAnthropic(message.usage);
  const body = chatCompletion(
    typeof message.id === 'string' ? message.id : 'msg',
    typeof message.model === 'string' ? message.model : fallbackModel,
    { content: text, reasoning_content: reasoning || undefined, tool_calls: toolCalls, refusal: refusalOf(message.stop_reason, message.stop_details) },
    finishReason(message.stop_reason),
    usage,
  );
  return { body, usage };
}

export function finishReason(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn
      return 'stop';
  }
}

/** A refusal's explanation (stop_details, recording anthropic-refusal.json) becomes OpenAI's `refusal`. */
export function refusalOf(stopReason: unknown, stopDetails: unknown): string | null {
  if (stopReason !== 'refusal') return null;
  const explanation = (stopDetails as { explanation?: unknown } | null | undefined)?.explanation;
  return typeof explanation === 'string' ? explanation : null;
}
