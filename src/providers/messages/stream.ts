/**
 * A provider's unified stream (chat.completion.chunk SSE, from its own adapter) → Anthropic's
 * Messages event sequence: message_start, content_block_start / _delta / _stop per block (thinking,
 * text, tool_use with input_json_delta), message_delta with stop_reason and usage, message_stop.
 * Usage, outcome and generated characters are the provider translator's: metering is unchanged.
 */
import type { Usage } from '../../metering/usage.ts';
import type { StreamOutcome, StreamTranslator } from '../contract.ts';
import { createSseReader, sseEvent } from '../sse.ts';
import { parseEvent } from '../unified/completion.ts';
import { anthropicErrorBody } from './errors.ts';
import { messageId } from './response.ts';
import { anthropicUsage, stopReason } from './usage.ts';

type Block = { kind: 'thinking' | 'text' } | { kind: 'tool'; call: number };

interface ChunkDelta {
  content?: string | null;
  reasoning_content?: string | null;
  tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[];
}

export class MessagesStream implements StreamTranslator {
  readonly #inner: StreamTranslator;
  readonly #model: string;
  readonly #reader;
  #out = '';
  #started = false;
  #ended = false;
  #ending: StreamOutcome | null = null;
  #index = -1;
  #open: Block | null = null;
  #stop: string | null = null;

  constructor(inner: StreamTranslator, model: string) {
    this.#inner = inner;
    this.#model = model;
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

  #feed(out: string | Uint8Array): void {
    if (out.length > 0) this.#reader.push(typeof out === 'string' ? Buffer.from(out) : out);
  }

  #onEvent(data: string, event: string | undefined): void {
    if (this.#ended) return;
    if (data === '[DONE]') return this.#end();
    const chunk = parseEvent(data);
    if (event === 'error' || (chunk && chunk.error && !chunk.choices)) {
      const err = (chunk?.error ?? {}) as { message?: string; code?: string };
      this.#ended = true;
      this.#ending = 'error';
      this.#out += sseEvent(anthropicErrorBody(500, err.message ?? 'The upstream stream failed.', err.code), 'error');
      return;
    }
    if (!chunk) return;
    this.#start(typeof chunk.id === 'string' ? chunk.id : undefined);
    const choice = (chunk.choices as { delta?: ChunkDelta; finish_reason?: string | null }[] | undefined)?.[0];
    if (!choice) return;
    const delta = choice.delta ?? {};
    if (delta.reasoning_content) this.#delta({ kind: 'thinking' }, { type: 'thinking_delta', thinking: delta.reasoning_content });
    if (delta.content) this.#delta({ kind: 'text' }, { type: 'text_delta', text: delta.content });
    for (const call of delta.tool_calls ?? []) {
      const at = call.index ?? 0;
      if (call.id || call.function?.name) this.#close();
      this.#delta({ kind: 'tool', call: at }, { type: 'input_json_delta', partial_json: call.function?.arguments ?? '' }, call);
    }
    if (choice.finish_reason) this.#stop = stopReason(choice.finish_reason);
  }

  #start(id: string | undefined): void {
    if (this.#started) return;
    this.#started = true;
    const message = { id: messageId(id), type: 'message', role: 'assistant', model: this.#model, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(null) };
    this.#emit('message_start', { type: 'message_start', message });
    // Anthropic's own streams follow message_start with a ping (clients ignore it; some wait for it).
    this.#emit('ping', { type: 'ping' });
  }

  /** A delta for `block`, opening it first when another block (or none) is open. */
  #delta(block: Block, delta: Record<string, string>, call?: NonNullable<ChunkDelta['tool_calls']>[number]): void {
    if (!this.#open || !sameBlock(this.#open, block)) {
      this.#close();
      this.#index++;
      this.#open = block;
      const content =
        block.kind === 'tool'
          ? { type: 'tool_use', id: call?.id ?? `toolu_${this.#index}`, name: call?.function?.name ?? '', input: {} }
          : block.kind === 'thinking'
            ? { type: 'thinking', thinking: '', signature: '' }
            : { type: 'text', text: '' };
      this.#emit('content_block_start', { type: 'content_block_start', index: this.#index, content_block: content });
    }
    const value = delta.text ?? delta.thinking ?? delta.partial_json ?? '';
    if (value.length > 0) this.#emit('content_block_delta', { type: 'content_block_delta', index: this.#index, delta });
  }

  #close(): void {
    if (this.#open) this.#emit('content_block_stop', { type: 'content_block_stop', index: this.#index });
    this.#open = null;
  }

  #end(): void {
    this.#start(undefined);
    this.#close();
    this.#ended = true;
    this.#ending = 'complete';
    const usage = anthropicUsage(this.#inner.usage);
    this.#emit('message_delta', { type: 'message_delta', delta: { stop_reason: this.#stop ?? 'end_turn', stop_sequence: null }, usage });
    this.#emit('message_stop', { type: 'message_stop' });
  }

  #emit(event: string, data: unknown): void {
    this.#out += sseEvent(JSON.stringify(data), event);
  }

  #take(): string {
    const out = this.#out;
    this.#out = '';
    return out;
  }
}

function sameBlock(a: Block, b: Block): boolean {
  return a.kind === b.kind && (a.kind !== 'tool' || (b.kind === 'tool' && a.call === b.call));
}
