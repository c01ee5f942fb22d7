/**
 * A provider's unified stream (chat.completion.chunk SSE, from its own adapter) → Anthropic's
 * Messages event sequence: message_start, content_block_start / _delta / _stop per block (thinking,
 * text, tool_use with input_json_delta), message_delta with stop_reason and usage, message_stop.
 * Usage, outcome and generated characters are the provider translator's: metering is unchanged.
 */
import type { StreamTranslator } from '../contract.ts';
import { sseEvent } from '../sse.ts';
import { ChunkBridge, type ChunkDelta, type StreamFailure } from '../unified/chunk-bridge.ts';
import { anthropicErrorBody } from './errors.ts';
import { messageId } from './response.ts';
import { anthropicUsage, stopReason } from './usage.ts';

type Block = { kind: 'thinking' | 'text' } | { kind: 'tool'; call: number };

export class MessagesStream extends ChunkBridge {
  readonly #model: string;
  #started = false;
  #index = -1;
  #open: Block | null = null;
  #stop: string | null = null;

  constructor(inner: StreamTranslator, model: string) {
    super(inner);
    this.#model = model;
  }

  protected onError(err: StreamFailure): void {
    this.write(sseEvent(anthropicErrorBody(500, err.message ?? 'The upstream stream failed.', err.code), 'error'));
  }

  protected onDelta(delta: ChunkDelta, finishReason: string | null | undefined): void {
    if (delta.reasoning_content) this.#delta({ kind: 'thinking' }, { type: 'thinking_delta', thinking: delta.reasoning_content });
    if (delta.content) this.#delta({ kind: 'text' }, { type: 'text_delta', text: delta.content });
    for (const call of delta.tool_calls ?? []) {
      const at = call.index ?? 0;
      if (call.id || call.function?.name) this.#close();
      this.#delta({ kind: 'tool', call: at }, { type: 'input_json_delta', partial_json: call.function?.arguments ?? '' }, call);
    }
    if (finishReason) this.#stop = stopReason(finishReason);
  }

  protected onStart(id: unknown): void {
    if (this.#started) return;
    this.#started = true;
    const message = { id: messageId(typeof id === 'string' ? id : undefined), type: 'message', role: 'assistant', model: this.#model, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(null) };
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

  protected onDone(): void {
    this.onStart(undefined);
    this.#close();
    const usage = anthropicUsage(this.usage);
    this.#emit('message_delta', { type: 'message_delta', delta: { stop_reason: this.#stop ?? 'end_turn', stop_sequence: null }, usage });
    this.#emit('message_stop', { type: 'message_stop' });
  }

  #emit(event: string, data: unknown): void {
    this.write(sseEvent(JSON.stringify(data), event));
  }
}

function sameBlock(a: Block, b: Block): boolean {
  return a.kind === b.kind && (a.kind !== 'tool' || (b.kind === 'tool' && a.call === b.call));
}
