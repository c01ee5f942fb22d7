/**
 * Anthropic usage → Usage. Anthropic reports input *without* the prompt cache: input_tokens, then
 * cache_creation_input_tokens (writes) and cache_read_input_tokens (reads) beside it, so the
 * billed prompt is their sum. Writes are split by TTL in `cache_creation` (ephemeral_5m / 1h,
 * anthropic-text.json); without that split every write is a 5-minute one, the default. Thinking is
 * part of output_tokens (output_tokens_details.thinking_tokens, when reported). `service_tier` is
 * the tier that served the message, and server_tool_use.web_search_requests the searches it ran.
 */
import { estimateTokens, tokenCount, type Usage } from '../../metering/usage.ts';
import { usageFromParts } from '../usage-classes.ts';

const COUNTS = ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens', 'output_tokens'] as const;
/** Objects and strings taken as a whole, latest value winning, like the counts. */
const DETAILS = ['cache_creation', 'output_tokens_details', 'server_tool_use', 'service_tier'] as const;

type Counts = Partial<Record<(typeof COUNTS)[number], unknown>> & {
  cache_creation?: { ephemeral_5m_input_tokens?: unknown; ephemeral_1h_input_tokens?: unknown } | null;
  output_tokens_details?: { thinking_tokens?: unknown } | null;
  server_tool_use?: { web_search_requests?: unknown } | null;
  service_tier?: unknown;
};

export function usageFromAnthropic(value: unknown): Usage | null {
  if (typeof value !== 'object' || value === null) return null;
  const u = value as Counts;
  if (typeof u.input_tokens !== 'number' && typeof u.output_tokens !== 'number') return null;
  return toUsage(u);
}

function toUsage(u: Counts): Usage {
  const read = tokenCount(u.cache_read_input_tokens);
  const split1h = tokenCount(u.cache_creation?.ephemeral_1h_input_tokens);
  const split5m = tokenCount(u.cache_creation?.ephemeral_5m_input_tokens);
  // The total wins over its split: a write the split does not place is a 5-minute one.
  const writes = u.cache_creation_input_tokens != null ? tokenCount(u.cache_creation_input_tokens) : tokenCount(split5m + split1h);
  const write1h = Math.min(split1h, writes);
  return usageFromParts({
    prompt: tokenCount(tokenCount(u.input_tokens) + writes + read),
    completion: tokenCount(u.output_tokens),
    cacheRead: read,
    cacheWrite5m: writes - write1h,
    cacheWrite1h: write1h,
    reasoning: tokenCount(u.output_tokens_details?.thinking_tokens),
    serviceTier: u.service_tier,
    units: { web_search_call: tokenCount(u.server_tool_use?.web_search_requests) },
  });
}

/**
 * Streamed usage: message_start carries input (and cache) counts with a placeholder output count;
 * message_delta's usage is cumulative and may restate the input counts with a different value
 * (recording anthropic-message-delta-input-tokens.chunks.txt: 43, then 61). Each field's latest
 * value wins.
 */
export class StreamUsage {
  readonly #counts: Counts = {};
  #started = false;
  #final = false;

  /** `final`: a message_delta count (the end of the message's accounting), not message_start's. */
  update(value: unknown, final: boolean): void {
    if (typeof value !== 'object' || value === null) return;
    const u = value as Counts;
    for (const key of COUNTS) if (typeof u[key] === 'number') this.#counts[key] = u[key];
    for (const key of DETAILS) if (u[key] !== undefined && u[key] !== null) (this.#counts as Record<string, unknown>)[key] = u[key];
    this.#started = true;
    if (final) this.#final = true;
  }

  /**
   * Reported once a message_delta gave the final counts. Before that (an error or a cut mid-way),
   * the input counts are real but the output is not: it is estimated from the text seen.
   */
  usage(generatedChars: number): Usage | null {
    if (!this.#started) return null;
    const usage = toUsage(this.#counts);
    if (this.#final) return usage;
    return { ...usage, completion_tokens: Math.max(usage.completion_tokens, estimateTokens(generatedChars)), source: 'estimated' };
  }
}
