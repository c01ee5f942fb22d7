/** A unified chat.completion (from any provider's adapter) → an Anthropic Message. */
import type { Usage } from '../../metering/usage.ts';
import { anthropicUsage, stopReason } from './usage.ts';

interface Completion {
  id?: string;
  choices?: {
    message?: { content?: string | null; reasoning_content?: string; refusal?: string | null; tool_calls?: { id: string; function: { name: string; arguments: string } }[] };
    finish_reason?: string | null;
  }[];
}

export function messageFromCompletion(completion: Completion, model: string, usage: Usage | null): Record<string, unknown> {
  const choice = completion.choices?.[0];
  const message = choice?.message ?? {};
  const content: Record<string, unknown>[] = [];
  if (message.reasoning_content) content.push({ type: 'thinking', thinking: message.reasoning_content, signature: '' });
  const text = message.content ?? message.refusal ?? '';
  if (text.length > 0) content.push({ type: 'text', text });
  for (const call of message.tool_calls ?? []) {
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: toolInput(call.function.arguments) });
  }
  return {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason(choice?.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(usage),
  };
}

export function messageId(id: string | undefined): string {
  return id?.startsWith('msg_') ? id : `msg_${id ?? 'tollbooth'}`;
}

/** Arguments text → the input object; text that is not a JSON object is kept under `_raw`. */
export function toolInput(args: string): unknown {
  if (args.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(args);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : { _raw: args };
  } catch {
    return { _raw: args };
  }
}
