/** OpenAI-shaped usage objects, as every OpenAI-compatible vendor varies them, → Usage. */
import type { OpenAICompat } from '../../catalog/types.ts';
import { reported, type Usage } from '../../metering/usage.ts';

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  // Images, transcription and the Responses API say input/output.
  input_tokens?: number;
  output_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  input_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
  output_tokens_details?: { reasoning_tokens?: number } | null;
  /** DeepSeek's name for cached input. */
  prompt_cache_hit_tokens?: number;
}

export function usageFromOpenAI(value: unknown, compat: OpenAICompat | null, embeddings = false): Usage | null {
  if (typeof value !== 'object' || value === null) return null;
  const u = value as OpenAIUsage;
  const prompt = u.prompt_tokens ?? u.input_tokens;
  if (typeof prompt !== 'number') return null;
  const cached = u.prompt_tokens_details?.cached_tokens ?? u.input_tokens_details?.cached_tokens ?? u.prompt_cache_hit_tokens ?? 0;
  if (embeddings) return reported(prompt, 0, cached, 0);
  const reasoning = u.completion_tokens_details?.reasoning_tokens ?? u.output_tokens_details?.reasoning_tokens ?? 0;
  let completion = u.completion_tokens ?? u.output_tokens ?? 0;
  if (compat?.reasoning_tokens_separate) completion += reasoning;
  return reported(prompt, completion, cached, reasoning);
}

/** The usage a chunk or body carries: top level, Groq's x_groq, or the Responses API's response. */
export function usageField(obj: Record<string, unknown>): unknown {
  return obj.usage ?? (obj.x_groq as { usage?: unknown } | undefined)?.usage ?? (obj.response as { usage?: unknown } | undefined)?.usage;
}
