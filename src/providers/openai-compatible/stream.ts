/**
 * OpenAI-compatible SSE: forwarded event by event, with usage read on the way. Only chunks that
 * carry a usage object are parsed; the rest are scanned once (chunk-scan.ts), not decoded.
 */
import type { OpenAICompat } from '../../catalog/types.ts';
import type { Usage } from '../../metering/usage.ts';
import type { StreamOutcome, StreamTranslator, UsageTap } from '../contract.ts';
import { createSseReader, sseErrorEvent, sseEvent } from '../sse.ts';
import { scanChunk } from './chunk-scan.ts';
import { needsNormalizing, normalize } from './normalize.ts';
import { usageOfAnswer } from './usage.ts';

export interface OpenAIStreamOptions {
  compat: OpenAICompat | null;
  /** Drop the usage-only chunk (`choices: []`) that Tollbooth asked for on the caller's behalf. */
  hideUsageChunk: boolean;
  /** Build client output (unified API) or only watch (passthrough tap). */
  emit: boolean;
  /**
   * Legacy text completions: the generated text is `choices[].text`, a key chat chunks do not
   * use, so such chunks are parsed to count it (openai-completion-text.chunks.txt).
   */
  countText?: boolean;
}

export class OpenAIStream implements StreamTranslator {
  usage: Usage | null = null;
  outcome: StreamOutcome | null = null;
  generatedChars = 0;
  readonly #options: OpenAIStreamOptions;
  readonly #reader;
  #out = '';
  #sawDone = false;
  #sawFinish = false;
  readonly #toolCalls = { nextIndex: 0 };

  constructor(options: OpenAIStreamOptions) {
    this.#options = options;
    this.#reader = createSseReader(
      (e) => this.#onEvent(e.data, e.event),
      // Keep-alive comments (OpenRouter's ": OPENROUTER PROCESSING") keep the client's connection alive too.
      (comment) => {
        if (this.#options.emit) this.#out += `:${comment}\n\n`;
      },
    );
  }

  push(chunk: Uint8Array): string | Uint8Array {
    const text = this.#reader.push(chunk);
    const out = this.#out;
    this.#out = '';
    // Whole events passed on unchanged in the upstream's own framing (the usual case): the
    // upstream bytes go to the client as they are, sparing an encode of every chunk.
    return out === text ? chunk : out;
  }

  finish(): string {
    this.#reader.end();
    if (this.outcome === null) {
      if (this.#sawDone || this.#sawFinish) {
        this.outcome = 'complete';
        if (!this.#sawDone && this.#options.emit) this.#out += 'data: [DONE]\n\n';
      } else {
        this.outcome = 'truncated';
        if (this.#options.emit) {
          this.#out += sseErrorEvent('upstream_stream_truncated', 'The upstream stream ended before the response was complete.');
        }
      }
    }
    const out = this.#out;
    this.#out = '';
    return out;
  }

  #onEvent(data: string, event: string | undefined): void {
    if (data === '[DONE]') {
      this.#sawDone = true;
      if (this.#options.emit) this.#out += 'data: [DONE]\n\n';
      return;
    }
    // Errors inside a 200 stream: `event: error` (Groq) or a chunk with an error object (OpenAI,
    // OpenRouter, whose error chunk may be the only one with usage).
    const facts = scanChunk(data);
    const failed = event === 'error' || facts.errorObject || facts.failedResponse;
    if (failed) this.outcome = 'error';
    else {
      this.generatedChars += this.#options.countText ? completionTextChars(data) : facts.generatedChars;
      if (facts.finished) this.#sawFinish = true;
    }

    let out = data;
    const needsFix = this.#options.emit && needsNormalizing(this.#options.compat, data);
    if (needsFix || facts.usageObject) {
      const chunk = safeParse(data);
      const usage = chunk ? usageOfAnswer(chunk, this.#options.compat) : null;
      if (usage) this.usage = usage;
      if (this.#options.hideUsageChunk && Array.isArray(chunk?.choices) && chunk.choices.length === 0) return;
      if (needsFix && chunk && normalize(this.#options.compat!, chunk, this.#toolCalls)) out = JSON.stringify(chunk);
    }
    if (this.#options.emit) this.#out += sseEvent(out, failed ? event : undefined);
  }
}

/** Passthrough: the same reader, producing nothing. */
export function openAIStreamTap(compat: OpenAICompat | null, countText = false): UsageTap {
  const stream = new OpenAIStream({ compat, hideUsageChunk: false, emit: false, countText });
  return {
    push: (chunk) => void stream.push(chunk),
    finish: () => {
      stream.finish();
      return { usage: stream.usage, outcome: stream.outcome ?? 'truncated', generatedChars: stream.generatedChars };
    },
  };
}

function safeParse(data: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(data);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Characters of `choices[].text` in a text-completion chunk. */
function completionTextChars(data: string): number {
  const choices = safeParse(data)?.choices;
  if (!Array.isArray(choices)) return 0;
  let n = 0;
  for (const c of choices) if (typeof (c as { text?: unknown })?.text === 'string') n += (c as { text: string }).text.length;
  return n;
}
