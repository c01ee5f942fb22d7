/** A unified chat.completion (from any provider's adapter) → a Responses API Response. */
import type { Usage } from '../../metering/usage.ts';
import { echoOf, type OutputItem, responseId, responseObject, statusOf } from './output.ts';

interface Completion {
  id?: string;
  created?: number;
  choices?: {
    message?: { content?: string | null; reasoning_content?: string; refusal?: string | null; tool_calls?: { id: string; function: { name: string; arguments: string } }[] };
    finish_reason?: string | null;
  }[];
}

export function responseFromCompletion(completion: Completion, request: Record<string, unknown>, model: string, usage: Usage | null): Record<string, unknown> {
  const id = responseId(completion.id);
  const choice = completion.choices?.[0];
  const message = choice?.message ?? {};
  const output: OutputItem[] = [];
  if (message.reasoning_content) output.push({ type: 'reasoning', id: `rs_${id}`, summary: [{ type: 'summary_text', text: message.reasoning_content }] });
  const text = message.content ?? message.refusal ?? '';
  if (text.length > 0) output.push({ type: 'message', id: `msg_${id}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] });
  (message.tool_calls ?? []).forEach((call, i) => {
    output.push({ type: 'function_call', id: `fc_${id}_${i}`, call_id: call.id, name: call.function.name, arguments: call.function.arguments, status: 'completed' });
  });
  const { status, incomplete } = statusOf(choice?.finish_reason);
  const state = { id, createdAt: completion.created ?? Math.floor(Date.now() / 1000), model, echo: echoOf(request) };
  return responseObject(state, status, output, usage, incomplete);
}
