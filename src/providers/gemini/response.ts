/**
 * A Gemini generateContent response → an OpenAI chat.completion: text parts become content, thought
 * summaries (`thought: true`) reasoning_content, functionCall parts tool_calls.
 */
import { randomUUID } from 'node:crypto';
import type { Usage } from '../../metering/usage.ts';
import { chatCompletion, type FinishReason, type UnifiedToolCall } from '../unified/completion.ts';
import { usageFromGemini } from './usage.ts';
import type { GeminiPart, GeminiResponse } from './wire.ts';

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'IMAGE_RECITATION']);

/** Gemini's finishReason → OpenAI's; a turn that called a function finishes with `tool_calls`. */
export function finishReason(reason: string, calledTools: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTERED.has(reason)) return 'content_filter';
  return calledTools ? 'tool_calls' : 'stop';
}

/** Ids for one answer: the completion's and its tool calls', derived from Gemini's responseId. */
export class ResponseIds {
  #base: string | null = null;

  see(response: GeminiResponse): void {
    if (this.#base === null && typeof response.responseId === 'string') this.#base = response.responseId;
  }

  get completion(): string {
    this.#base ??= randomUUID().replaceAll('-', '');
    return `chatcmpl-${this.#base}`;
  }

  toolCall(n: number): string {
    return `call_${this.completion.slice('chatcmpl-'.length)}_${n}`;
  }
}

/**
 * The tool call a functionCall part becomes. Gemini 3 needs the part's thought signature back on the
 * next turn: it travels where Google's own OpenAI-compatible API puts it, `extra_content.google`.
 */
export function toolCall(part: GeminiPart, id: string, args: string): UnifiedToolCall {
  return {
    id,
    type: 'function',
    function: { name: part.functionCall?.name ?? '', arguments: args },
    ...(part.thoughtSignature ? { extra_content: { google: { thought_signature: part.thoughtSignature } } } : {}),
  };
}

export function toChatCompletion(response: GeminiResponse, model: string): { body: string; usage: Usage | null } {
  const ids = new ResponseIds();
  ids.see(response);
  const usage = usageFromGemini(response.usageMetadata);
  const candidate = response.candidates?.[0];
  if (!candidate) {
    // A prompt blocked by the safety filters has no candidates, only promptFeedback.blockReason.
    const reason = response.promptFeedback?.blockReason ? 'content_filter' : 'stop';
    return { body: chatCompletion(ids.completion, response.modelVersion ?? model, { content: null }, reason, usage), usage };
  }
  let content = '';
  let reasoning = '';
  const toolCalls: UnifiedToolCall[] = [];
  for (const part of candidate.content?.parts ?? []) {
    if (part.functionCall) toolCalls.push(toolCall(part, ids.toolCall(toolCalls.length), JSON.stringify(part.functionCall.args ?? {})));
    else if (typeof part.text === 'string') {
      if (part.thought === true) reasoning += part.text;
      else content += part.text;
    }
  }
  const message = {
    content: content.length > 0 || toolCalls.length === 0 ? content : null,
    ...(reasoning.length > 0 ? { reasoning_content: reasoning } : {}),
    tool_calls: toolCalls,
  };
  const finish = finishReason(candidate.finishReason ?? 'STOP', toolCalls.length > 0);
  return { body: chatCompletion(ids.completion, response.modelVersion ?? model, message, finish, usage), usage };
}
