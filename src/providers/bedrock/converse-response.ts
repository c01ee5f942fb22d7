/** Bedrock Converse response → chat.completion (recordings: amazon-bedrock-text.json, amazon-bedrock-reasoning.json). */
import { randomUUID } from 'node:crypto';
import type { Usage } from '../../metering/usage.ts';
import { openAIUsage } from '../unified/completion.ts';
import { usageFromConverse } from './usage.ts';

const FINISH_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

export function finishReason(stopReason: unknown): string {
  return (typeof stopReason === 'string' ? FINISH_REASONS[stopReason] : undefined) ?? 'stop';
}

export function completionId(): string {
  return `chatcmpl-${randomUUID()}`;
}

interface ContentBlock {
  text?: string;
  toolUse?: { toolUseId?: string; name?: string; input?: unknown };
  reasoningContent?: { reasoningText?: { text?: string } };
}

export function chatCompletion(body: Record<string, unknown>, model: string): { body: string; usage: Usage | null } {
  const output = body.output as { message?: { content?: ContentBlock[] } } | undefined;
  const blocks = output?.message?.content ?? [];
  let text = '';
  let reasoning = '';
  const toolCalls: Record<string, unknown>[] = [];
  for (const block of blocks) {
    if (typeof block.text === 'string') text += block.text;
    else if (typeof block.reasoningContent?.reasoningText?.text === 'string') reasoning += block.reasoningContent.reasoningText.text;
    else if (block.toolUse) {
      toolCalls.push({
        id: block.toolUse.toolUseId,
        type: 'function',
        function: { name: block.toolUse.name, arguments: JSON.stringify(block.toolUse.input ?? {}) },
      });
    }
  }
  const message: Record<string, unknown> = { role: 'assistant', content: text.length > 0 || toolCalls.length === 0 ? text : null, refusal: null };
  if (reasoning.length > 0) message.reasoning_content = reasoning;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const usage = usageFromConverse(body.usage);
  const completion: Record<string, unknown> = {
    id: completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, finish_reason: finishReason(body.stopReason), logprobs: null }],
  };
  if (usage) completion.usage = openAIUsage(usage);
  return { body: JSON.stringify(completion), usage };
}
