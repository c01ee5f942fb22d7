/**
 * The Responses API's Response object, built by the bridge (whole or at the end of a stream): the
 * request's settings echoed, the output items, status and usage in the Responses fields.
 */
import type { Usage } from '../../metering/usage.ts';

type Json = Record<string, unknown>;

export type OutputItem =
  | { type: 'message'; id: string; status: string; role: 'assistant'; content: { type: 'output_text'; text: string; annotations: unknown[] }[] }
  | { type: 'function_call'; id: string; call_id: string; name: string; arguments: string; status: string }
  | { type: 'reasoning'; id: string; summary: { type: 'summary_text'; text: string }[] };

export function responsesUsage(usage: Usage | null): Json | null {
  if (!usage) return null;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.cached_tokens },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.reasoning_tokens },
    total_tokens: usage.prompt_tokens + usage.completion_tokens,
  };
}

/** The request's settings a Response echoes back. */
export function echoOf(request: Json): Json {
  return {
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    metadata: request.metadata ?? {},
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: request.reasoning ?? null,
    store: false,
    temperature: request.temperature ?? null,
    text: request.text ?? { format: { type: 'text' } },
    tool_choice: request.tool_choice ?? 'auto',
    tools: request.tools ?? [],
    top_p: request.top_p ?? null,
    truncation: 'disabled',
    user: request.user ?? null,
  };
}

export interface ResponseState {
  id: string;
  createdAt: number;
  model: string;
  echo: Json;
}

export function responseObject(state: ResponseState, status: 'in_progress' | 'completed' | 'incomplete' | 'failed', output: OutputItem[], usage: Usage | null, incomplete: string | null = null): Json {
  return {
    id: state.id,
    object: 'response',
    created_at: state.createdAt,
    status,
    error: null,
    incomplete_details: incomplete ? { reason: incomplete } : null,
    model: state.model,
    output,
    ...state.echo,
    usage: responsesUsage(usage),
  };
}

/** A chat finish_reason → the Response's status and incomplete reason. */
export function statusOf(finish: unknown): { status: 'completed' | 'incomplete'; incomplete: string | null } {
  if (finish === 'length') return { status: 'incomplete', incomplete: 'max_output_tokens' };
  if (finish === 'content_filter') return { status: 'incomplete', incomplete: 'content_filter' };
  return { status: 'completed', incomplete: null };
}

export function responseId(id: unknown): string {
  const base = typeof id === 'string' && id.length > 0 ? id.replace(/^(chatcmpl-|msg_|resp_)/, '') : Math.random().toString(36).slice(2);
  return `resp_${base}`;
}
