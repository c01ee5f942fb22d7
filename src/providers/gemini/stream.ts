/**
 * Gemini `streamGenerateContent?alt=sse` → OpenAI chat.completion.chunk events. Every Gemini chunk
 * carries the running usageMetadata and only the last one counts (the prompt count can change
 * mid-stream). Gemini sends no end marker: the chunk with a finishReason is the end, and a stream
 * that stops before one was cut.
 */
import type { Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { parseEvent } from '../unified/completion.ts';
import { TranslatedStream, type TranslatedStreamOptions } from '../unified/translated-stream.ts';
import { geminiError } from './errors.ts';
import { PartialArgs } from './partial-args.ts';
import { finishReason, ResponseIds, toolCall } from './response.ts';
import { usageFromGemini } from './usage.ts';
import type { GeminiPart, GeminiResponse } from './wire.ts';

export class GeminiStream extends TranslatedStream {
  usage: Usage | null = null;
  readonly #target: Target;
  readonly #ids = new ResponseIds();
  #started = false;
  /** Tool calls started so far: the next call's index. */
  #calls = 0;
  /** A call whose arguments are still streaming (Vertex partialArgs). */
  #open: { index: number; args: PartialArgs } | null = null;

  constructor(target: Target, options: TranslatedStreamOptions) {
    super(options);
    this.#target = target;
  }

  protected onEvent(data: string): void {
    const chunk = parseEvent(data) as GeminiResponse | null;
    if (chunk === null) return;
    if (chunk.error) {
      // An error object inside a 200 stream: mapped like an error response with its code.
      const status = typeof chunk.error.code === 'number' ? chunk.error.code : 500;
      return this.fail(geminiError(this.#target, status, {}, Buffer.from(data)));
    }
    this.#ids.see(chunk);
    if (!this.#started) {
      this.#started = true;
      this.start(this.#ids.completion, chunk.modelVersion ?? null);
    }
    this.usage = usageFromGemini(chunk.usageMetadata) ?? this.usage;

    const candidate = chunk.candidates?.[0];
    for (const part of candidate?.content?.parts ?? []) {
      if (part.functionCall) this.#functionCall(part);
      else if (typeof part.text === 'string') {
        if (part.thought === true) this.reasoning(part.text);
        else this.text(part.text);
      }
    }
    if (candidate?.finishReason) {
      if (this.#open) this.#close();
      this.delta({}, finishReason(candidate.finishReason, this.#calls > 0));
      this.complete();
    } else if (!candidate && chunk.promptFeedback?.blockReason) {
      this.delta({}, 'content_filter');
      this.complete();
    }
  }

  /** A whole call is one delta; a Vertex streamed call opens, fills, and its arguments go when it closes. */
  #functionCall(part: GeminiPart): void {
    const call = part.functionCall!;
    if (this.#open) {
      if (call.partialArgs) this.#open.args.apply(call.partialArgs);
      if (call.willContinue !== true) this.#close();
      return;
    }
    if (call.name === undefined) return;
    const index = this.#calls++;
    const streaming = call.willContinue === true;
    const args = streaming ? '' : JSON.stringify(call.args ?? {});
    if (streaming) {
      this.#open = { index, args: new PartialArgs() };
      if (call.partialArgs) this.#open.args.apply(call.partialArgs);
    }
    this.generatedChars += call.name.length + args.length;
    this.delta({ tool_calls: [{ index, ...toolCall(part, this.#ids.toolCall(index), args) }] });
  }

  #close(): void {
    const open = this.#open!;
    this.#open = null;
    this.toolCallArguments(open.index, JSON.stringify(open.args.value));
  }
}
