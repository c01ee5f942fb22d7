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

const USAGE_KEY = /"usage"\s*:\s*\{/g;
const USAGE_NAME = '"usage"';

/**
 * The usage of a whole (non-streamed) body, reading only its `usage` object: decoding and parsing
 * the entire answer just for its last few fields showed up in the request profile. The key is
 * looked for from the end (where every vendor puts it) in the bytes, and only from there is text
 * decoded. Inside JSON strings every quote is escaped, so `"usage"` followed by a colon is always
 * a real key.
 */
export function usageOfBody(body: Buffer, compat: OpenAICompat | null, embeddings: boolean): Usage | null {
  const at = body.lastIndexOf(USAGE_NAME);
  if (at === -1) return null;
  const tail = body.toString('utf8', at);
  const found = usageObjectAt(tail, 0) ?? usageObjectAt(body.toString('utf8'), null);
  if (found === null) return null;
  try {
    return usageFromOpenAI(JSON.parse(found), compat, embeddings);
  } catch {
    return null;
  }
}

/** The text of the `{…}` after a `"usage":` key at `at` (or the first such key, when null). */
function usageObjectAt(text: string, at: number | null): string | null {
  USAGE_KEY.lastIndex = at ?? 0;
  const match = USAGE_KEY.exec(text);
  if (!match || (at !== null && match.index !== at)) return null;
  const start = USAGE_KEY.lastIndex - 1;
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i += text.charCodeAt(i) === 92 ? 2 : 1);
    } else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return text.slice(start, i + 1);
  }
  return null;
}
