/**
 * Anthropic Messages SSE → OpenAI chat.completion.chunk SSE (or, not emitting, the passthrough tap).
 * message_start → the role chunk; text_delta → content; thinking_delta → reasoning_content; a
 * tool_use block → a tool call (its own index, arguments from input_json_delta); message_delta →
 * the finish chunk and the final usage; message_stop → the end. `event: error` inside the 200
 * stream ends the client's stream with an explicit error event.
 */
import type { Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { upstreamError } from '../upstream-error.ts';
import { parseEvent } from '../unified/completion.ts';
import { TranslatedStream, type TranslatedStreamOptions } from '../unified/translated-stream.ts';
import { finishReason, refusalOf } from './response.ts';
import { StreamUsage } from './usage.ts';

type Obj = Record<string, unknown> & { type?: unknown };

/** Anthropic error types → the HTTP status the same error carries outside a stream. */
const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export class AnthropicStream extends TranslatedStream {
  readonly #target: Target;
  readonly #usage = new StreamUsage();
  /** Anthropic content-block index → OpenAI tool-call index, and whether arguments arrived. */
  readonly #tools = new Map<number, { index: number; hasArguments: boolean }>();

  constructor(target: Target, options: TranslatedStreamOptions) {
    super(options);
    this.#target = target;
  }

  get usage(): Usage | null {
    return this.#usage.usage(this.generatedChars);
  }

  protected onEvent(data: string): void {
    const event = parseEvent(data) as Obj | null;
    if (!event) return;
    switch (event.type) {
      case 'message_start': {
        const message = (event.message ?? {}) as Obj;
        this.#usage.update(message.usage, false);
        this.start(str(message.id), str(message.model));
        break;
      }
      case 'content_block_start':
        this.#blockStart(Number(event.index), (event.content_block ?? {}) as Obj);
        break;
      case 'content_block_delta':
        this.#blockDelta(Number(event.index), (event.delta ?? {}) as Obj);
        break;
      case 'content_block_stop': {
        // A tool called without arguments streams none (anthropic-tool-no-args.chunks.txt); say `{}`
        // as the non-streamed answer does, so arguments always parse.
        const tool = this.#tools.get(Number(event.index));
        if (tool && !tool.hasArguments) this.toolCallArguments(tool.index, '{}');
        break;
      }
      case 'message_delta': {
        this.#usage.update(event.usage, true);
        const delta = (event.delta ?? {}) as Obj;
        if (delta.stop_reason) {
          const refusal = refusalOf(delta.stop_reason, delta.stop_details);
          this.delta(refusal === null ? {} : { refusal }, finishReason(delta.stop_reason));
        }
        break;
      }
      case 'message_stop':
        this.complete();
        break;
      case 'error':
        this.fail(this.#error(event.error));
        break;
      default:
      // ping, and event types newer than this translator
    }
  }

  #blockStart(index: number, block: Obj): void {
    if (block.type === 'tool_use') {
      const tool = { index: this.#tools.size, hasArguments: false };
      this.#tools.set(index, tool);
      this.toolCallStart(tool.index, str(block.id) ?? '', str(block.name) ?? '');
    } else if (block.type === 'text') {
      this.text(str(block.text) ?? '');
    } else if (block.type === 'thinking') {
      this.reasoning(str(block.thinking) ?? '');
    }
  }

  #blockDelta(index: number, delta: Obj): void {
    if (delta.type === 'text_delta') this.text(str(delta.text) ?? '');
    else if (delta.type === 'thinking_delta') this.reasoning(str(delta.thinking) ?? '');
    else if (delta.type === 'input_json_delta') {
      const tool = this.#tools.get(index);
      const args = str(delta.partial_json) ?? '';
      if (!tool || args.length === 0) return;
      tool.hasArguments = true;
      this.toolCallArguments(tool.index, args);
    }
  }

  /** The in-stream error becomes the same gateway error its HTTP form would (status, message, redaction). */
  #error(error: unknown) {
    const type = str((error as Obj | undefined)?.type) ?? 'api_error';
    const raw = Buffer.from(JSON.stringify({ type: 'error', error }));
    return upstreamError(this.#target, ERROR_STATUS[type] ?? 500, {}, raw);
  }
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
