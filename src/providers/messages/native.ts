/**
 * The Messages API on Anthropic itself: the caller's body goes to /v1/messages as it is but for
 * `model` (the catalog's upstream name), and Anthropic's answer comes back byte for byte; usage is
 * read on the way with the Anthropic adapter's own readers. Thinking signatures, redacted thinking
 * and cache counts therefore travel untouched.
 */
import { GatewayError } from '../../errors/catalog.ts';
import type { Target } from '../../routing/target.ts';
import { createAnthropicAdapter } from '../anthropic/adapter.ts';
import { AnthropicStream } from '../anthropic/stream.ts';
import { usageFromAnthropic } from '../anthropic/usage.ts';
import type { ProviderAdapter, StreamTranslator } from '../contract.ts';
import { parseUpstreamJson } from '../unified/completion.ts';
import { anthropicErrorEvent } from './errors.ts';

/** `headers`: the caller's anthropic-beta (and similar) headers, forwarded. */
export function messagesNative(target: Target, headers: Record<string, string>, path = '/messages'): ProviderAdapter {
  const anthropic = createAnthropicAdapter(target);
  return {
    ...anthropic,
    request: (_operation, body) => ({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', accept: body.stream === true ? 'text/event-stream' : 'application/json', ...headers },
      body: JSON.stringify({ ...body, model: target.upstreamModel }),
      context: null,
    }),
    response: (_operation, raw) => ({ body: raw, usage: usageFromAnthropic(parseUpstreamJson(target, raw).usage) }),
    stream: () => relay(new AnthropicStream(target, { emit: false, includeUsage: false, model: target.upstreamModel })),
  };
}

/**
 * Anthropic's stream, relayed as it is, read by the Anthropic translator (not emitting): its outcome
 * is known as soon as message_stop is read, so the pipeline holds that last event for the charge.
 */
function relay(reader: AnthropicStream): StreamTranslator {
  return {
    get usage() {
      return reader.usage;
    },
    get outcome() {
      return reader.outcome;
    },
    get generatedChars() {
      return reader.generatedChars;
    },
    push(chunk) {
      reader.push(chunk);
      return chunk;
    },
    finish() {
      reader.finish();
      if (reader.outcome !== 'truncated') return '';
      return anthropicErrorEvent(new GatewayError('upstream_stream_truncated', 'The upstream stream ended before the response was complete.'));
    },
  };
}
