/**
 * Reading an OpenAI chat.completions request, for the adapters that translate it into another
 * provider's wire shape (Anthropic, Cohere, …). Only the fields several translators need live here.
 */
import { GatewayError } from '../../errors/catalog.ts';

export type ChatBody = Record<string, unknown>;

export interface ChatMessage {
  role: string;
  content?: unknown;
  tool_calls?: unknown;
  tool_call_id?: unknown;
}

export interface ContentPart {
  type: string;
  text?: string;
  refusal?: string;
  image_url?: { url?: string; detail?: string } | string;
  file?: { file_data?: string; file_id?: string; filename?: string };
  [key: string]: unknown;
}

export interface FunctionTool {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

export interface ToolCall {
  id: string;
  name: string;
  /** The JSON text of the arguments, as the caller sent it. */
  arguments: string;
}

export function invalid(message: string, param: string | null = null): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

export function messagesOf(body: ChatBody): ChatMessage[] {
  const messages = body.messages as unknown[];
  return messages.map((m, i) => {
    if (typeof m !== 'object' || m === null || typeof (m as ChatMessage).role !== 'string') {
      throw invalid(`messages[${i}] must be an object with a 'role'.`, `messages[${i}]`);
    }
    return m as ChatMessage;
  });
}

/** Message content as parts: a string becomes one text part; null/absent becomes none. */
export function contentParts(content: unknown, param: string): ContentPart[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw invalid(`${param} must be a string or an array of content parts.`, param);
  return content.map((p, i) => {
    if (typeof p !== 'object' || p === null || typeof (p as ContentPart).type !== 'string') {
      throw invalid(`${param}[${i}] must be a content part with a 'type'.`, `${param}[${i}]`);
    }
    return p as ContentPart;
  });
}

/** The text of a message's content (text parts joined; other parts are the caller's error to make). */
export function contentText(content: unknown, param: string): string {
  return contentParts(content, param)
    .filter((p) => p.type === 'text')
    .map((p) => p.text ?? '')
    .join('');
}

export function imageUrlOf(part: ContentPart): string | null {
  const image = part.image_url;
  return typeof image === 'string' ? image : typeof image?.url === 'string' ? image.url : null;
}

/** `data:<media type>;base64,<data>` → its parts; null for any other URL. */
export function parseDataUrl(url: string): { mediaType: string; data: string } | null {
  const match = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s.exec(url);
  return match ? { mediaType: match[1]!.toLowerCase(), data: match[2]! } : null;
}

export function functionTools(body: ChatBody): FunctionTool[] {
  if (body.tools === undefined || body.tools === null) return [];
  if (!Array.isArray(body.tools)) throw invalid("'tools' must be an array.", 'tools');
  return body.tools.map((t, i) => {
    const tool = t as { type?: string; function?: FunctionTool };
    if (tool?.type !== 'function' || typeof tool.function?.name !== 'string') {
      throw invalid(`tools[${i}] must be a function tool ({type: 'function', function: {name, parameters}}).`, `tools[${i}]`);
    }
    return tool.function;
  });
}

/** An assistant message's tool calls, checked. */
export function toolCallsOf(message: ChatMessage, param: string): ToolCall[] {
  if (message.tool_calls === undefined || message.tool_calls === null) return [];
  if (!Array.isArray(message.tool_calls)) throw invalid(`${param}.tool_calls must be an array.`, `${param}.tool_calls`);
  return message.tool_calls.map((c, i) => {
    const call = c as { id?: unknown; function?: { name?: unknown; arguments?: unknown } };
    if (typeof call?.id !== 'string' || typeof call.function?.name !== 'string') {
      throw invalid(`${param}.tool_calls[${i}] needs an id and a function name.`, `${param}.tool_calls[${i}]`);
    }
    const args = call.function.arguments;
    return { id: call.id, name: call.function.name, arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) };
  });
}

/** Tool-call arguments as an object (Anthropic's tool_use input); '' means no arguments. */
export function parseToolArguments(call: ToolCall, param: string): Record<string, unknown> {
  if (call.arguments.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(call.arguments);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw invalid(`${param}: the arguments of tool call '${call.id}' must be a JSON object.`, param);
}

/** max_completion_tokens (current) or max_tokens (legacy), when the caller set one. */
export function maxTokensOf(body: ChatBody): number | null {
  const value = body.max_completion_tokens ?? body.max_tokens;
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalid("'max_completion_tokens' must be a positive integer.", 'max_completion_tokens');
  }
  return value;
}

export function stopSequencesOf(body: ChatBody): string[] | null {
  const stop = body.stop;
  if (stop === undefined || stop === null) return null;
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return stop;
  throw invalid("'stop' must be a string or an array of strings.", 'stop');
}

/** Whether the caller asked for a usage chunk at the end of a stream. */
export function wantsStreamUsage(body: ChatBody): boolean {
  return (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
}

/** Providers that answer one choice per call reject n > 1 rather than answer fewer. */
export function requireSingleChoice(body: ChatBody, provider: string): void {
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw invalid(`${provider} returns one choice per request: 'n' must be 1.`, 'n');
  }
}

/**
 * The thinking-token budget a unified request asks for, for providers that take a budget (Anthropic
 * `thinking.budget_tokens`, Cohere `thinking.token_budget`, Gemini 2.5 `thinkingBudget`, Claude on
 * Bedrock). null: no thinking asked for; 0: thinking explicitly off. Two spellings: OpenAI's
 * `reasoning_effort` (steps ours, not a vendor's: 1024 is Anthropic's minimum budget, and each step
 * quadruples it; 'none' and 'minimal' are off), or Anthropic's own `thinking` object — an extension
 * of the unified request (LiteLLM's too) that carries a Messages request's exact budget across the
 * bridge (messages/request.ts); it wins when both are given.
 */
export function thinkingBudget(body: ChatBody): number | null {
  const exact = exactThinkingBudget(body);
  if (exact !== null) return exact;
  const effort = body.reasoning_effort;
  if (effort === undefined || effort === null) return null;
  const budget = THINKING_BUDGETS[effort as string];
  if (budget === undefined) {
    throw invalid(`'reasoning_effort' must be one of ${Object.keys(THINKING_BUDGETS).join(', ')}.`, 'reasoning_effort');
  }
  return budget;
}

/** The `thinking` extension's budget: {type: 'enabled', budget_tokens} → the budget, {type: 'disabled'} → 0, absent → null. */
export function exactThinkingBudget(body: ChatBody): number | null {
  const thinking = body.thinking as { type?: unknown; budget_tokens?: unknown } | undefined | null;
  if (thinking === undefined || thinking === null) return null;
  if (thinking.type === 'disabled') return 0;
  if (thinking.type === 'enabled' && Number.isSafeInteger(thinking.budget_tokens) && (thinking.budget_tokens as number) > 0) return thinking.budget_tokens as number;
  throw invalid("'thinking' must be {type: 'enabled', budget_tokens: <positive integer>} or {type: 'disabled'}.", 'thinking');
}

/**
 * A thinking budget → the OpenAI `reasoning_effort` whose budget range holds it, for providers that
 * take an effort, not a budget: below 4096 low, below 16384 medium, from 16384 high (the
 * THINKING_BUDGETS steps read backwards, so an effort's own budget maps back to that effort).
 */
export function effortForBudget(budget: number): 'low' | 'medium' | 'high' {
  return budget < THINKING_BUDGETS.medium! ? 'low' : budget < THINKING_BUDGETS.high! ? 'medium' : 'high';
}

/**
 * `top_k` (an extension of the unified request, as vLLM and Anthropic spell it): sample from the k
 * most likely tokens. Gemini topK, Cohere k, Anthropic and Claude on Bedrock top_k, Nova topK; the
 * OpenAI-compatible vendors get the body as sent.
 */
export function topKOf(body: ChatBody): number | null {
  const k = body.top_k;
  if (k === undefined || k === null) return null;
  if (!Number.isSafeInteger(k) || (k as number) < 0) throw invalid("'top_k' must be a non-negative integer.", 'top_k');
  return k as number;
}

export const THINKING_BUDGETS: Readonly<Record<string, number>> = {
  none: 0,
  minimal: 0,
  low: 1024,
  medium: 4096,
  high: 16384,
  xhigh: 32768,
};
