/**
 * A provider's unified stream (chat.completion.chunk SSE, from its own adapter) → the Responses
 * API's event sequence: response.created / in_progress; per output item (reasoning summary,
 * message, function_call) output_item.added, its parts and deltas, their .done events and
 * output_item.done; then response.completed (or response.incomplete) carrying the whole response
 * with usage; an upstream failure is an `error` event. Every event has its sequence_number.
 * Usage, outcome and generated characters are the provider translator's: metering is unchanged.
 */
import type { Usage } from '../../metering/usage.ts';
import type { StreamOutcome, StreamTranslator } from '../contract.ts';
import { createSseReader, sseEvent } from '../sse.ts';
import { parseEvent } from '../unified/completion.ts';
import { echoOf, type OutputItem, responseId, responseObject, type ResponseState, statusOf } from './output.ts';

interface ChunkDelta {
  content?: string | null;
  reasoning_content?: string | null;
  tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[];
}

interface Open {
  item: OutputItem;
  index: number;
  /** The chat tool call index, for function_call items. */
  call?: number;
  text: string;
}

export class ResponsesStream implements StreamTranslator {
  readonly #inner: StreamTranslator;
  readonly #request: Record<string, unknown>;
  readonly #model: string;
  readonly #reader;
  #state: ResponseState | null = null;
  #out = '';
  #seq = 0;
  #ended = false;
  #ending: StreamOutcome | null = null;
  readonly #items: OutputItem[] = [];
  #open: Open | null = null;
  #finish: string | null = null;

  constructor(inner: StreamTranslator, request: Record<string, unknown>, model: string) {
    this.#inner = inner;
    this.#request = request;
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
      const err = (chunk?.error ?? {}) as { message?: string; code?: string; type?: string };
      this.#fail(err.code ?? 'upstream_error', err.message ?? 'The upstream stream failed.', err.type ?? 'upstream_error');
      return;
    }
    if (!chunk) return;
    this.#start(chunk.id);
    const choice = (chunk.choices as { delta?: ChunkDelta; finish_reason?: string | null }[] | undefined)?.[0];
    if (!choice) return;
    const delta = choice.delta ?? {};
    if (delta.reasoning_content) this.#reasoning(delta.reasoning_content);
    if (delta.content) this.#text(delta.content);
    for (const call of delta.tool_calls ?? []) this.#toolCall(call);
    if (choice.finish_reason) this.#finish = choice.finish_reason;
  }

  #start(id: unknown): void {
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

  #end(): void {
    this.#start(undefined);
    this.#close();
    this.#ended = true;
    this.#ending = 'complete';
    const { status, incomplete } = statusOf(this.#finish);
    const response = responseObject(this.#state!, status, this.#items, this.#inner.usage, incomplete);
    this.#emit(status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
  }

  /**
   * An upstream failure mid-stream, as OpenAI reports one (recording openai-error.1.chunks.txt): an
   * `error` event, then response.failed with what was produced so far.
   */
  #fail(code: string, message: string, type: string): void {
    this.#start(undefined);
    this.#ended = true;
    this.#ending = 'error';
    this.#emit('error', { error: { type, code, message, param: null } });
    const response = { ...responseObject(this.#state!, 'failed', this.#items, this.#inner.usage), error: { code, message } };
    this.#emit('response.failed', { response });
  }

  #at(open: Open): { item_id: string; output_index: number } {
    return { item_id: open.item.id, output_index: open.index };
  }

  #suffix(): string {
    return `${this.#state!.id.slice(5)}_${this.#items.length}`;
  }

  #emit(type: string, fields: Record<string, unknown>): void {
    this.#out += sseEvent(JSON.stringify({ type, sequence_number: this.#seq++, ...fields }), type);
  }

  #take(): string {
    const out = this.#out;
    this.#out = '';
    return out;
  }
}
