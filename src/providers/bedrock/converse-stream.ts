/**
 * ConverseStream (binary event stream) → OpenAI chat.completion.chunk SSE, or, for the passthrough,
 * only watched for usage. On the wire the event type is the `:event-type` header and the payload is
 * the bare event object with a random `p` padding field (SOURCES.md, Bedrock notes). Usage arrives
 * only in the final `metadata` event: a stream that ends before it (and before `messageStop`) was
 * cut. `:message-type: exception` frames are errors inside a 200 stream.
 */
import type { Message } from '@smithy/types';
import type { Usage } from '../../metering/usage.ts';
import type { StreamOutcome, StreamTranslator, UsageTap } from '../contract.ts';
import { sseErrorEvent, sseEvent } from '../sse.ts';
import { completionId, finishReason } from './converse-response.ts';
import { EventStreamReader, headerString, payloadJson } from './event-stream.ts';
import { openAIUsage } from '../unified/completion.ts';
import { usageFromConverse, usageFromInvoke } from './usage.ts';

export interface ConverseStreamOptions {
  /** Build client output (unified API) or only watch (passthrough tap). */
  emit: boolean;
  /** The caller asked for stream_options.include_usage: send the `choices: []` usage chunk. */
  includeUsage: boolean;
  model: string;
}

type Delta = Record<string, unknown>;

export class ConverseStream implements StreamTranslator {
  usage: Usage | null = null;
  outcome: StreamOutcome | null = null;
  generatedChars = 0;
  readonly #options: ConverseStreamOptions;
  readonly #reader = new EventStreamReader();
  readonly #id = completionId();
  readonly #created = Math.floor(Date.now() / 1000);
  /** contentBlockIndex → tool-call index in the unified stream. */
  readonly #toolIndex = new Map<number, number>();
  #sawStop = false;
  #sawMetadata = false;
  #out = '';

  constructor(options: ConverseStreamOptions) {
    this.#options = options;
  }

  push(chunk: Uint8Array): string {
    if (this.outcome === null) {
      for (const message of this.#reader.push(chunk)) {
        this.#onMessage(message);
        if (this.outcome !== null) break;
      }
      if (this.#reader.corrupt !== null && this.outcome === null) this.#fail('upstream_bad_response', `Bedrock's event stream is corrupt: ${this.#reader.corrupt}.`, null);
    }
    return this.#take();
  }

  finish(): string {
    if (this.outcome === null) {
      if (this.#sawStop && this.#sawMetadata && this.#reader.pendingBytes === 0) {
        this.outcome = 'complete';
        if (this.#options.emit) this.#out += 'data: [DONE]\n\n';
      } else {
        this.outcome = 'truncated';
        if (this.#options.emit) this.#out += sseErrorEvent('upstream_stream_truncated', 'The upstream stream ended before the response was complete.');
      }
    }
    return this.#take();
  }

  #onMessage(message: Message): void {
    const kind = headerString(message, ':message-type');
    if (kind === 'exception' || kind === 'error') {
      const type = headerString(message, ':exception-type') ?? headerString(message, ':error-code');
      const payload = payloadJson(message);
      const text = (payload?.message ?? payload?.Message ?? headerString(message, ':error-message') ?? 'Bedrock reported an error in the stream.') as string;
      this.#fail('upstream_error', String(text), type);
      return;
    }
    const event = headerString(message, ':event-type');
    const payload = payloadJson(message) ?? {};
    switch (event) {
      case 'messageStart':
        this.#chunk({ role: 'assistant', content: '' });
        break;
      case 'contentBlockStart':
        this.#onBlockStart(payload);
        break;
      case 'contentBlockDelta':
        this.#onDelta(payload);
        break;
      case 'messageStop':
        this.#sawStop = true;
        this.#chunk({}, finishReason(payload.stopReason));
        break;
      case 'metadata':
        this.#onMetadata(payload);
        break;
      case 'chunk':
        // InvokeModelWithResponseStream (passthrough only): model-native JSON, base64 in `bytes`.
        this.#onInvokeChunk(payload);
        break;
      default:
        // contentBlockStop and events added later carry nothing the unified shape needs.
        break;
    }
  }

  #onBlockStart(payload: Record<string, unknown>): void {
    const start = payload.start as { toolUse?: { toolUseId?: string; name?: string } } | undefined;
    if (!start?.toolUse) return;
    const index = this.#toolIndex.size;
    this.#toolIndex.set(Number(payload.contentBlockIndex), index);
    this.generatedChars += start.toolUse.name?.length ?? 0;
    this.#chunk({ tool_calls: [{ index, id: start.toolUse.toolUseId, type: 'function', function: { name: start.toolUse.name, arguments: '' } }] });
  }

  #onDelta(payload: Record<string, unknown>): void {
    const delta = payload.delta as { text?: string; toolUse?: { input?: string }; reasoningContent?: { text?: string } } | undefined;
    if (typeof delta?.text === 'string') {
      this.generatedChars += delta.text.length;
      this.#chunk({ content: delta.text });
    } else if (typeof delta?.toolUse?.input === 'string') {
      this.generatedChars += delta.toolUse.input.length;
      const index = this.#toolIndex.get(Number(payload.contentBlockIndex)) ?? 0;
      this.#chunk({ tool_calls: [{ index, function: { arguments: delta.toolUse.input } }] });
    } else if (typeof delta?.reasoningContent?.text === 'string') {
      // The signature (reasoningContent.signature) has no place in the unified shape.
      this.generatedChars += delta.reasoningContent.text.length;
      if (delta.reasoningContent.text.length > 0) this.#chunk({ reasoning_content: delta.reasoningContent.text });
    }
  }

  #onMetadata(payload: Record<string, unknown>): void {
    this.#sawMetadata = true;
    const usage = usageFromConverse(payload.usage);
    if (!usage) return;
    this.usage = usage;
    if (this.#options.emit && this.#options.includeUsage) {
      this.#out += sseEvent(JSON.stringify({ ...this.#envelope(), choices: [], usage: openAIUsage(usage) }));
    }
  }

  #onInvokeChunk(payload: Record<string, unknown>): void {
    if (typeof payload.bytes !== 'string') return;
    const text = Buffer.from(payload.bytes, 'base64').toString('utf8');
    this.generatedChars += text.length;
    try {
      const usage = usageFromInvoke(JSON.parse(text) as Record<string, unknown>);
      if (usage) {
        this.usage = usage;
        this.#sawStop = this.#sawMetadata = true;
      }
    } catch {
      // Not JSON: nothing to meter from this chunk.
    }
  }

  #fail(code: string, message: string, upstreamCode: string | null): void {
    this.outcome = 'error';
    if (this.#options.emit) this.#out += sseErrorEvent(code, message, { provider: 'bedrock', upstream_code: upstreamCode });
  }

  #chunk(delta: Delta, finish: string | null = null): void {
    if (!this.#options.emit) return;
    this.#out += sseEvent(JSON.stringify({ ...this.#envelope(), choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] }));
  }

  #envelope(): Record<string, unknown> {
    return { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#options.model };
  }

  #take(): string {
    const out = this.#out;
    this.#out = '';
    return out;
  }
}

/** Passthrough: the same reader, producing nothing; the bytes go to the caller unchanged. */
export function converseStreamTap(): UsageTap {
  const stream = new ConverseStream({ emit: false, includeUsage: false, model: '' });
  return {
    push: (chunk) => void stream.push(chunk),
    finish: () => {
      stream.finish();
      return { usage: stream.usage, outcome: stream.outcome ?? 'truncated', generatedChars: stream.generatedChars };
    },
  };
}
