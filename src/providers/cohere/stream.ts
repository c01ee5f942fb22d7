/**
 * Cohere v2 chat SSE → OpenAI chat.completion.chunk SSE (or, not emitting, the passthrough tap).
 * message-start → the role chunk; content-delta text → content, thinking → reasoning_content;
 * tool-plan-delta → content; tool-call-start/delta → tool calls; message-end → the finish chunk and
 * usage (billed_units). A message-end with finish_reason ERROR/TIMEOUT ends the client's stream
 * with an explicit error event.
 */
import type { Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { parseEvent } from '../unified/completion.ts';
import { TranslatedStream, type TranslatedStreamOptions } from '../unified/translated-stream.ts';
import { failed, finishReason, generationFailed } from './chat-response.ts';
import { usageFromCohere } from './usage.ts';

type Obj = Record<string, unknown>;

export class CohereStream extends TranslatedStream {
  readonly #target: Target;
  #usage: Usage | null = null;
  /** Cohere tool-call index → OpenAI tool-call index. */
  readonly #tools = new Map<number, number>();

  constructor(target: Target, options: TranslatedStreamOptions) {
    super(options);
    this.#target = target;
  }

  get usage(): Usage | null {
    return this.#usage;
  }

  protected onEvent(data: string): void {
    const event = parseEvent(data);
    if (!event) return;
    const delta = (event.delta ?? {}) as Obj;
    const message = (delta.message ?? {}) as Obj;
    switch (event.type) {
      case 'message-start':
        this.start(str(event.id), null);
        break;
      case 'content-start':
      case 'content-delta': {
        const content = (message.content ?? {}) as Obj;
        this.text(str(content.text));
        this.reasoning(str(content.thinking));
        break;
      }
      case 'tool-plan-delta':
        this.text(str(message.tool_plan));
        break;
      case 'tool-call-start': {
        const call = (message.tool_calls ?? {}) as Obj;
        const fn = (call.function ?? {}) as Obj;
        const index = this.#tools.size;
        this.#tools.set(Number(event.index), index);
        this.toolCallStart(index, str(call.id), str(fn.name), str(fn.arguments));
        break;
      }
      case 'tool-call-delta': {
        const index = this.#tools.get(Number(event.index));
        const fn = ((message.tool_calls ?? {}) as Obj).function as Obj | undefined;
        if (index !== undefined) this.toolCallArguments(index, str(fn?.arguments));
        break;
      }
      case 'message-end':
        this.#usage = usageFromCohere(delta.usage);
        if (failed(delta.finish_reason)) {
          this.fail(generationFailed(this.#target, delta.finish_reason, delta.error));
        } else {
          this.delta({}, finishReason(delta.finish_reason));
          this.complete();
        }
        break;
      default:
      // content-end, tool-call-end, citation-start/end, debug
    }
  }
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
