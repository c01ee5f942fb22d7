/** Token usage in one shape, whatever the provider called it. */

export interface Usage {
  /** All input tokens billed at the input price (cached ones included). */
  prompt_tokens: number;
  /** All output tokens billed at the output price (reasoning/thinking included). */
  completion_tokens: number;
  /** Input tokens served from the provider's prompt cache, as reported. */
  cached_tokens: number;
  /** Output tokens spent on reasoning, as reported. */
  reasoning_tokens: number;
  /** `reported` by the provider, or `estimated` by Tollbooth when none arrived (cut stream, abort). */
  source: 'reported' | 'estimated';
  /**
   * The finer token classes, each *inside* prompt_tokens or completion_tokens as the comments say
   * (absent = 0). Together with cached_tokens and reasoning_tokens they split the two totals into
   * disjoint priced classes (tokenClasses in pricing/classes.ts).
   */
  /** Input tokens written to the prompt cache with a 5-minute TTL (Anthropic's default), inside prompt_tokens. */
  cache_write_5m_tokens?: number;
  /** Input tokens written to the prompt cache with a 1-hour TTL, inside prompt_tokens. */
  cache_write_1h_tokens?: number;
  /** Uncached audio / image input tokens, inside prompt_tokens. */
  audio_input_tokens?: number;
  image_input_tokens?: number;
  /** Audio / image output tokens, inside completion_tokens and beside reasoning_tokens. */
  audio_output_tokens?: number;
  image_output_tokens?: number;
  /** The service tier the provider reports it served (`flex`, `priority`, `batch`, …), never the one asked for. */
  service_tier?: string;
  /**
   * Non-token units the exchange consumed, by catalog unit name: `image` (or `image:<size>:<quality>`),
   * `audio_second`, `character`, `search`, `web_search_call`.
   */
  units?: Record<string, number>;
}

export function reported(prompt: number, completion: number, cached = 0, reasoning = 0): Usage {
  return { prompt_tokens: tokenCount(prompt), completion_tokens: tokenCount(completion), cached_tokens: tokenCount(cached), reasoning_tokens: tokenCount(reasoning), source: 'reported' };
}

/**
 * A token count as an upstream reported it, made a whole number the meter can charge exactly: a
 * buggy or hostile upstream may send fractions, strings, negatives, NaN or 1e300. Fractions round
 * up (never undercharge), numeric strings count, anything else is 0; at most 2^53 − 1.
 */
export function tokenCount(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) return 0;
  return Math.min(Math.ceil(n), Number.MAX_SAFE_INTEGER);
}

/** A rough token count from characters (≈4 per token), used only when no usage was reported. */
export function estimateTokens(chars: number): number {
  return chars <= 0 ? 0 : Math.ceil(chars / 4);
}

export function estimated(promptChars: number, completionChars: number): Usage {
  return {
    prompt_tokens: estimateTokens(promptChars),
    completion_tokens: estimateTokens(completionChars),
    cached_tokens: 0,
    reasoning_tokens: 0,
    source: 'estimated',
  };
}

/**
 * What an exchange is charged for (DESIGN.md, "Money rules"): the caller pays for what the provider
 * processed. Its reported usage when it sent some; else, when the answer was complete or tokens
 * reached the client, an estimate from what was sent and delivered (`estimated`); else nothing: a
 * failure before any token costs nothing. One rule for unified and passthrough, for client aborts,
 * cut streams and streams that end in an error event.
 */
export function billedUsage(reportedUsage: Usage | null, complete: boolean, promptChars: number, deliveredChars: number): Usage | null {
  if (reportedUsage) return reportedUsage;
  if (complete || deliveredChars > 0) return estimated(promptChars, deliveredChars);
  return null;
}
