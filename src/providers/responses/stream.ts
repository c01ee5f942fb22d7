/**
 * A provider's unified stream (chat.completion.chunk SSE, from its own adapter) → the Responses
 * API's event sequence: response.created / in_progress; per output item (reasoning summary,
 * message, function_call) output_item.added, its parts and deltas, their .done events and
 * output_item.done; then response.completed (or response.incomplete) carrying the whole response
 * with usage; an upstream failure is an `error` event. Every event has its sequence_number.
 * Usage, outcome and generated characters are the provider translator's: metering is unchanged.
 */
import type { StreamTranslator } from '../contract.ts';
import { sseEvent } from '../sse.ts';
import { ChunkBridge, type ChunkDelta, type StreamFailure } from '../unified/chunk-bridge.ts';
import { echoOf, type OutputItem, responseId, responseObject, type ResponseState, statusOf } from './output.ts';

interface Open {
  item: OutputItem;
  index: number;
  /** The chat tool call index, for function_call items. */
  call?: number;
  text: string;
}

export class ResponsesStream extends ChunkBridge {
  readonly #request: Record<string, unknown>;
  readonly #model: string;
  #state: ResponseState | null = null;
  #seq = 0;
  readonly #items: OutputItem[] = [];
  #open: Open | null = null;
  #finish: string | null = null;

  constructor(inner: StreamTranslator, request: Record<string, unknown>, model: string) {
    super(inner);
    this.#request = request;
    this.#model = model;
  }

  protected onError(err: StreamFailure): void {
    this.#fail(err.code ?? 'upstream_error', err.message ?? 'The upstream stream failed.', err.type ?? 'upstream_error');
  }

  protected onDelta(delta: ChunkDelta, finishReason: string | null | undefined): void {
    if (delta.reasoning_content) this.#reasoning(delta.reasoning_content);
    if (delta.content) this.#text(delta.content);
    for (const call of delta.tool_calls ?? []) this.#toolCall(call);
    if (finishReason) this.#finish = finishReason;
  }

  protected onStart(id: unknown): void {
    if (this.#state) return;
    this.#state = { id: responseId(id), createdAt: Math.floor(Date.now() / 1000), model: this.#model, echo: echoOf(this.#request) };
    const response = responseObject(this.#state, 'in_progress', [], null);
    this.#emit('response.created', { response });
    this.#emit('response.in_progress', { response });
  }

  #reasoning(text: string): void {
    const open = this.#openItem('reasoning', () => ({ type: 'reasoning', id: `rs_${this.#suffix()}`, summary: [] }));
    if (open.text === '') this.#emit('response.reasoning_summary_part.added', { ...this.#at(open), summary_index: 0, part: { type: 'summary_text', text: '' } });
    open.text += text;
    this.#emit('response.reasoning_summary_text.delta', { ...this.#at(open), summary_index: 0, delta: text });
  }

  #text(text: string): void {
    const open = this.#openItem('message', () => ({ type: 'message', id: `msg_${this.#suffix()}`, status: 'in_progress', role: 'assistant', content: [] }));
    if (open.text === '') this.#emit('response.content_part.added', { ...this.#at(open), content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    open.text += text;
    this.#emit('response.output_text.delta', { ...this.#at(open), content_index: 0, delta: text, logprobs: [] });
  }

  #toolCall(call: NonNullable<ChunkDelta['tool_calls']>[number]): void {
    const at = call.index ?? 0;
    if (this.#open?.item.type !== 'function_call' || this.#open.call !== at || call.id) {
      this.#close();
      const item: OutputItem = { type: 'function_call', id: `fc_${this.#suffix()}`, call_id: call.id ?? `call_${this.#suffix()}`, name: call.function?.name ?? '', arguments: '', status: 'in_progress' };
      this.#add({ item, index: this.#items.length, call: at, text: '' });
    }
    const args = call.function?.arguments ?? '';
    if (args.length === 0) return;
    this.#open!.text += args;
    this.#emit('response.function_call_arguments.delta', { ...this.#at(this.#open!), delta: args });
  }

  #openItem(type: 'reasoning' | 'message', make: () => OutputItem): Open {
    if (this.#open?.item.type === type) return this.#open;
    this.#close();
    return this.#add({ item: make(), index: this.#items.length, text: '' });
  }

  #add(open: Open): Open {
    this.#items.push(open.item);
    this.#open = open;
    this.#emit('response.output_item.added', { output_index: open.index, item: structuredClone(open.item) });
    return open;
  }

  #close(): void {
    const open = this.#open;
    if (!open) return;
    this.#open = null;
    const item = open.item;
    if (item.type === 'reasoning') {
      const part = { type: 'summary_text' as const, text: open.text };
      this.#emit('response.reasoning_summary_text.done', { ...this.#at(open), summary_index: 0, text: open.text });
      this.#emit('response.reasoning_summary_part.done', { ...this.#at(open), summary_index: 0, part });
      item.summary = [part];
    } else if (item.type === 'message') {
      const part = { type: 'output_text' as const, text: open.text, annotations: [] };
      this.#emit('response.output_text.done', { ...this.#at(open), content_index: 0, text: open.text, logprobs: [] });
      this.#emit('response.content_part.done', { ...this.#at(open), content_index: 0, part });
      item.content = [part];
      item.status = 'completed';
    } else {
      this.#emit('response.function_call_arguments.done', { ...this.#at(open), arguments: open.text });
      item.arguments = open.text;
      item.status = 'completed';
    }
    this.#emit('response.output_item.done', { output_index: open.index, item: structuredClone(item) });
  }

  protected onDone(): void {
    this.onStart(undefined);
    this.#close();
    const { status, incomplete } = statusOf(this.#finish);
    const response = responseObject(this.#state!, status, this.#items, this.usage, incomplete);
    this.#emit(status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
  }

  /**
   * An upstream failure mid-stream, as OpenAI reports one (recording openai-error.1.chunks.txt): an
   * `error` event, then response.failed with what was produced so far.
   */
  #fail(code: string, message: string, type: string): void {
    this.onStart(undefined);
    this.#emit('error', { error: { type, code, message, param: null } });
    const response = { ...responseObject(this.#state!, 'failed', this.#items, this.usage), error: { code, message } };
    this.#emit('response.failed', { response });
  }

  #at(open: Open): { item_id: string; output_index: number } {
    return { item_id: open.item.id, output_index: open.index };
  }

  #suffix(): string {
    return `${this.#state!.id.slice(5)}_${this.#items.length}`;
  }

  #emit(type: string, fields: Record<string, unknown>): void {
    this.write(sseEvent(JSON.stringify({ type, sequence_number: this.#seq++, ...fields }), type));
  }
}
