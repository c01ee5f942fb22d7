/**
 * A provider's unified stream (chat.completion.chunk SSE, from its own adapter) re-emitted as
 * another API's event sequence (Anthropic Messages, OpenAI Responses). This base reads the unified
 * events back and hands the subclass each chunk's delta, the end and a failure; usage, outcome and
 * generated characters stay the provider translator's, so metering is unchanged by the bridge.
 */
import type { Usage } from '../../metering/usage.ts';
import type { StreamOutcome, StreamTranslator } from '../contract.ts';
import { createSseReader } from '../sse.ts';
import { parseEvent } from './completion.ts';

export interface ChunkDelta {
  content?: string | null;
  reasoning_content?: string | null;
  tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[];
}

export interface StreamFailure {
  message?: string;
  code?: string;
  type?: string;
}

export abstract class ChunkBridge implements StreamTranslator {
  readonly #inner: StreamTranslator;
  readonly #reader;
  #out = '';
  #ended = false;
  #ending: StreamOutcome | null = null;

  constructor(inner: StreamTranslator) {
    this.#inner = inner;
    this.#reader = createSseReader((e) => this.#onEvent(e.data, e.event));
  }

  get usage(): Usage | null {
    return this.#inner.usage;
  }

  /**
   * The provider's translator may only know at its finish() (an OpenAI-compatible stream): the end
   * this stream emitted already says how it ends, so the pipeline holds that end for the charge.
   */
  get outcome(): StreamOutcome | null {
    return this.#inner.outcome ?? this.#ending;
  }

  get generatedChars(): number {
    return this.#inner.generatedChars;
  }

  push(chunk: Uint8Array): string {
    this.#feed(this.#inner.push(chunk));
    return this.#take();
  }

  finish(): string {
    this.#feed(this.#inner.finish());
    this.#reader.end();
    return this.#take();
  }

  /** The first chunk (its id, when it has one) opens the sequence. */
  protected abstract onStart(id: unknown): void;
  protected abstract onDelta(delta: ChunkDelta, finishReason: string | null | undefined): void;
  /** The unified stream ended cleanly ([DONE]). */
  protected abstract onDone(): void;
  /** The unified stream carried an error event: the bridged stream ends with its own. */
  protected abstract onError(failure: StreamFailure): void;

  /** Queues bridged bytes for the next push()/finish(). */
  protected write(text: string): void {
    this.#out += text;
  }

  #feed(out: string | Uint8Array): void {
    if (out.length > 0) this.#reader.push(typeof out === 'string' ? Buffer.from(out) : out);
  }

  #onEvent(data: string, event: string | undefined): void {
    if (this.#ended) return;
    if (data === '[DONE]') {
      this.#ended = true;
      this.#ending = 'complete';
      return this.onDone();
    }
    const chunk = parseEvent(data);
    if (event === 'error' || (chunk && chunk.error && !chunk.choices)) {
      this.#ended = true;
      this.#ending = 'error';
      return this.onError((chunk?.error ?? {}) as StreamFailure);
    }
    if (!chunk) return;
    this.onStart(chunk.id);
    const choice = (chunk.choices as { delta?: ChunkDelta; finish_reason?: string | null }[] | undefined)?.[0];
    if (choice) this.onDelta(choice.delta ?? {}, choice.finish_reason);
  }

  #take(): string {
    const out = this.#out;
    this.#out = '';
    return out;
  }
}
