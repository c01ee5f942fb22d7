/**
 * The Messages API on Bedrock's Anthropic models, natively: InvokeModel /
 * InvokeModelWithResponseStream with Anthropic's own Messages body (Bedrock's dialect of it: the
 * model in the path, `anthropic_version: "bedrock-2023-05-31"`, no `model` or `stream` in the body,
 * beta flags as `anthropic_beta`). Nothing is translated, so thinking signatures, redacted thinking,
 * cache_control and top_k reach Claude as the caller wrote them, and the answer is Anthropic's own
 * Message. The stream is AWS event-stream whose `chunk` events carry one Anthropic event each
 * (base64 JSON in `bytes`): each is re-sent as the SSE event Anthropic would have sent, and read by
 * the Anthropic translator for usage (usageFromAnthropic; the last event's
 * `amazon-bedrock-invocationMetrics` only when Claude's own usage is missing).
 */
import { GatewayError } from '../../errors/catalog.ts';
import { reported } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { AnthropicStream } from '../anthropic/stream.ts';
import { usageFromAnthropic } from '../anthropic/usage.ts';
import { createBedrockAdapter } from '../bedrock/adapter.ts';
import { EventStreamReader, headerString, payloadJson } from '../bedrock/event-stream.ts';
import type { ProviderAdapter, StreamTranslator } from '../contract.ts';
import { parseUpstreamJson } from '../unified/completion.ts';
import { anthropicErrorEvent } from './errors.ts';

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

/** Whether a Bedrock model id (plain, cross-region profile `us.…`, or an ARN) is one of Anthropic's. */
export function isBedrockAnthropic(upstreamModel: string): boolean {
  return /(^|[.:/])anthropic\.claude/.test(upstreamModel);
}

/** The Messages body as Bedrock's InvokeModel takes it. */
export function bedrockMessagesBody(body: Record<string, unknown>, beta: string | undefined): Record<string, unknown> {
  const { model: _model, stream: _stream, ...rest } = body;
  const flags = beta ? beta.split(',').map((f) => f.trim()).filter(Boolean) : [];
  return { anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...rest, ...(flags.length > 0 ? { anthropic_beta: flags } : {}) };
}

/** `headers`: the caller's anthropic-beta, carried as `anthropic_beta` in the body (Bedrock takes no such header). */
export function messagesBedrockNative(target: Target, headers: Record<string, string>): ProviderAdapter {
  const bedrock = createBedrockAdapter(target);
  return {
    ...bedrock,
    request: (_operation, body) => {
      const stream = body.stream === true;
      const action = stream ? 'invoke-with-response-stream' : 'invoke';
      return {
        method: 'POST',
        path: `/model/${encodeURIComponent(target.upstreamModel)}/${action}`,
        headers: { 'content-type': 'application/json', accept: stream ? 'application/vnd.amazon.eventstream' : 'application/json' },
        body: JSON.stringify(bedrockMessagesBody(body, headers['anthropic-beta'])),
        context: null,
      };
    },
    response: (_operation, raw) => ({ body: raw, usage: usageFromAnthropic(parseUpstreamJson(target, raw).usage) }),
    stream: () => new BedrockAnthropicStream(new AnthropicStream(target, { emit: false, includeUsage: false, model: target.upstreamModel })),
    // Errors are Bedrock's (x-amzn-ErrorType), read by its adapter (kept from the spread above).
  };
}

interface InvocationMetrics {
  inputTokenCount?: unknown;
  outputTokenCount?: unknown;
}

/** Event-stream in, Anthropic SSE out; usage and outcome read by the Anthropic translator. */
class BedrockAnthropicStream implements StreamTranslator {
  readonly #reader = new EventStreamReader();
  readonly #anthropic: AnthropicStream;
  #metrics: InvocationMetrics | null = null;
  #failed = false;

  constructor(anthropic: AnthropicStream) {
    this.#anthropic = anthropic;
  }

  get usage() {
    const usage = this.#anthropic.usage;
    if (usage || this.#metrics === null) return usage;
    // Claude's usage missing: Bedrock's invocation metrics on the last chunk count the same tokens.
    return reported(Number(this.#metrics.inputTokenCount ?? 0), Number(this.#metrics.outputTokenCount ?? 0));
  }

  get outcome() {
    return this.#failed ? 'error' : this.#anthropic.outcome;
  }

  get generatedChars() {
    return this.#anthropic.generatedChars;
  }

  push(chunk: Uint8Array): string {
    let out = '';
    for (const message of this.#reader.push(chunk)) out += this.#onMessage(message);
    return out;
  }

  finish(): string {
    this.#anthropic.finish();
    if (this.#failed || this.#anthropic.outcome !== 'truncated') return '';
    const why = this.#reader.corrupt ?? 'The upstream stream ended before the response was complete.';
    return anthropicErrorEvent(new GatewayError('upstream_stream_truncated', why));
  }

  #onMessage(message: Parameters<typeof headerString>[0]): string {
    const kind = headerString(message, ':message-type');
    if (kind === 'exception' || kind === 'error') {
      const type = headerString(message, ':exception-type') ?? headerString(message, ':error-code') ?? 'error';
      const payload = payloadJson(message);
      const text = String(payload?.message ?? payload?.Message ?? 'Bedrock reported an error in the stream.');
      this.#failed = true;
      return anthropicErrorEvent(new GatewayError('upstream_error', `${type}: ${text}`));
    }
    if (headerString(message, ':event-type') !== 'chunk') return '';
    const bytes = payloadJson(message)?.bytes;
    if (typeof bytes !== 'string') return '';
    const event = JSON.parse(Buffer.from(bytes, 'base64').toString('utf8')) as Record<string, unknown>;
    const metrics = event['amazon-bedrock-invocationMetrics'];
    if (metrics && typeof metrics === 'object') {
      this.#metrics = metrics as InvocationMetrics;
      delete event['amazon-bedrock-invocationMetrics'];
    }
    const sse = `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`;
    this.#anthropic.push(Buffer.from(sse));
    return sse;
  }
}
