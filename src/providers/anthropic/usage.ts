/**
 * Anthropic usage → Usage. Everything Anthropic bills at an input rate is prompt: fresh input, cache
 * writes and cache reads (cache reads are also reported as cached_tokens). Thinking is part of
 * output_tokens.
 */
import { estimateTokens, reported, type Usage } from '../../metering/usage.ts';

const COUNTS = ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens', 'output_tokens'] as const;
type Counts = Partial<Record<(typeof COUNTS)[number], number>> & { output_tokens_details?: { thinking_tokens?: number } | null };

export function usageFromAnthropic(value: unknown): Usage | null {
  if (typeof value !== 'object' || value === null) return null;
  const u = value as Counts;
  if (typeof u.input_tokens !== 'number' && typeof u.output_tokens !== 'number') return null;
  return toUsage(u);
}

function toUsage(u: Counts): Usage {
  const prompt = (u.input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);
  return reported(prompt, u.output_tokens ?? 0, u.cache_read_input_tokens ?? 0, u.output_tokens_details?.thinking_tokens ?? 0);
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
    if (u.output_tokens_details) this.#counts.output_tokens_details = u.output_tokens_details;
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
