/**
 * Usage → Anthropic's usage fields. Tollbooth's prompt count includes cache reads and cache writes;
 * Anthropic reports uncached input apart from both.
 */
import type { Usage } from '../../metering/usage.ts';

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export function anthropicUsage(usage: Usage | null): AnthropicUsage {
  if (!usage) return { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
  const writes = (usage.cache_write_5m_tokens ?? 0) + (usage.cache_write_1h_tokens ?? 0);
  return {
    input_tokens: Math.max(0, usage.prompt_tokens - usage.cached_tokens - writes),
    output_tokens: usage.completion_tokens,
    cache_read_input_tokens: usage.cached_tokens,
    cache_creation_input_tokens: writes,
  };
}

/** OpenAI finish_reason → Anthropic stop_reason. */
export function stopReason(finish: unknown): string {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}
