/**
 * What every translated stream shares: provider SSE events in, OpenAI chat.completion.chunk SSE out.
 * A provider's stream class only says what each of its events means (text, reasoning, a tool call,
 * the end, an error); this class frames chunks, ends cleanly with `data: [DONE]` (after the usage
 * chunk when the caller asked for one), and ends a failed or cut stream with an explicit error event.
 * With `emit: false` the same reading serves the passthrough tap, producing nothing.
 */
import type { GatewayError } from '../../errors/catalog.ts';
import type { Usage } from '../../metering/usage.ts';
import type { StreamOutcome, StreamTranslator, UsageTap } from '../contract.ts';
import { createSseReader, sseErrorEvent, sseEvent } from '../sse.ts';
import { openAIUsage, type FinishReason } from './completion.ts';

export interface TranslatedStreamOptions {
  /** Build client output (unified API) or only watch (passthrough tap). */
  emit: boolean;
  /** The caller asked for `stream_options.include_usage`: a `choices: []` usage chunk before [DONE]. */
  includeUsage: boolean;
  /** The model chunks name when the provider's stream does not. */
  model: string;
}

export abstract class TranslatedStream implements StreamTranslator {
  outcome: StreamOutcome | null = null;
  generatedChars = 0;
  abstract readonly usage: Usage | null;
  protected readonly options: TranslatedStreamOptions;
  readonly #reader;
  readonly #created = Math.floor(Date.now() / 1000);
  #id = 'chatcmpl-tollbooth';
  #model: string;
  #out = '';

  constructor(options: TranslatedStreamOptions) {
    this.options = options;
    this.#model = options.model;
    this.#reader = createSseReader((e) => {
      // Nothing after the end or an error counts: the client's stream is already closed.
      if (this.outcome === null) this.onEvent(e.data, e.event);
    });
  }

  /** One upstream SSE event. */
  protected abstract onEvent(data: string, event: string | undefined): void;

  push(chunk: Uint8Array): string {
    this.#reader.push(chunk);
    return this.#take();
  }

  finish(): string {
    this.#reader.end();
    if (this.outcome === null) {
      this.outcome = 'truncated';
      if (this.options.emit) {
        this.#out += sseErrorEvent('upstream_stream_truncated', 'The upstream stream ended before the response was complete.');
      }
    }
    return this.#take();
  }

  /** The message began: the first chunk carries the role. */
  protected start(id: string | null, model: string | null): void {
    if (id) this.#id = id;
    if (model) this.#model = model;
    this.delta({ role: 'assistant', content: '' });
  }

  protected delta(delta: Record<string, unknown>, finishReason: FinishReason | null = null): void {
    if (this.options.emit) this.#out += sseEvent(this.#chunk([{ index: 0, delta, finish_reason: finishReason, logprobs: null }]));
  }

  protected text(content: string): void {
    if (content.length === 0) return;
    this.generatedChars += content.length;
    this.delta({ content });
  }

  protected reasoning(text: string): void {
    if (text.length === 0) return;
    this.generatedChars += text.length;
    this.delta({ reasoning_content: text });
  }

  protected toolCallStart(index: number, id: string, name: string, args = ''): void {
    this.generatedChars += name.length + args.length;
    this.delta({ tool_calls: [{ index, id, type: 'function', function: { name, arguments: args } }] });
  }

  protected toolCallArguments(index: number, args: string): void {
    if (args.length === 0) return;
    this.generatedChars += args.length;
    this.delta({ tool_calls: [{ index, function: { arguments: args } }] });
  }

  /** The upstream said the message is complete. */
  protected complete(): void {
    this.outcome = 'complete';
    if (!this.options.emit) return;
    const usage = this.usage;
    if (this.options.includeUsage && usage) this.#out += sseEvent(this.#chunk([], { usage: openAIUsage(usage) }));
    this.#out += 'data: [DONE]\n\n';
  }

  /** The upstream reported an error inside the stream. */
  protected fail(error: GatewayError): void {
    this.outcome = 'error';
    if (this.options.emit) this.#out += sseErrorEvent(error.code, error.message, error.details);
  }

  #chunk(choices: unknown[], extra: Record<string, unknown> = {}): string {
    return JSON.stringify({ id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices, ...extra });
  }

  #take(): string {
    const out = this.#out;
    this.#out = '';
    return out;
  }
}

/** A passthrough tap reading a native stream with the provider's (non-emitting) translator. */
export function streamTap(stream: TranslatedStream): UsageTap {
  return {
    push: (chunk) => void stream.push(chunk),
    finish: () => {
      stream.finish();
      return { usage: stream.usage, outcome: stream.outcome ?? 'truncated', generatedChars: stream.generatedChars };
    },
  };
}
