/**
 * Text to speech (POST /audio/speech): the answer is audio bytes, passed to the caller as they come.
 * What the call is billed for: OpenAI bills tts-1 and tts-1-hd per character of `input` (no usage
 * comes back: the recorded gpt-4o-mini-tts answer (gpt-4o-mini-tts-provider-options-response.json) is bare
 * audio/mpeg), and the token-billed models (gpt-4o-mini-tts) report tokens only when asked for
 * `stream_format: "sse"`, in the `speech.audio.done` event. So the character count, read from the
 * request, is always metered as `units.character`; tokens are the reported ones, else (a
 * token-priced model) an estimate from the characters, marked so.
 */
import { estimateTokens, reported, type Usage } from '../../metering/usage.ts';
import type { StreamOutcome, StreamTranslator, UsageTap } from '../contract.ts';
import { createSseReader } from '../sse.ts';
import { usageFromOpenAI } from './usage.ts';

/** What metering a speech answer needs from its request. */
export interface SpeechContext {
  /** Characters of `input` (code points), what per-character models bill. */
  characters: number;
  /** The model is priced by tokens: without reported tokens, they are estimated. */
  tokenPriced: boolean;
  /** The caller asked for `stream_format: "sse"`: the answer is events, not bare audio. */
  sse: boolean;
}

/** Characters as OpenAI counts them for TTS: code points of the input text. */
export function speechCharacters(input: unknown): number {
  if (typeof input !== 'string') return 0;
  let n = 0;
  for (const _ of input) n++;
  return n;
}

export class SpeechStream implements StreamTranslator {
  outcome: StreamOutcome | null = null;
  readonly generatedChars = 0;
  readonly #context: SpeechContext;
  #sse: ReturnType<typeof createSseReader> | null;
  #reported: Usage | null = null;
  #failed = false;

  constructor(context: SpeechContext) {
    this.#context = context;
    this.#sse = context.sse ? createSseReader((e) => this.#onEvent(e.data, e.event)) : null;
  }

  /** The bytes go to the caller unchanged; an SSE answer is read on the way for its usage. */
  push(chunk: Uint8Array): Uint8Array {
    this.#sse?.push(chunk);
    return chunk;
  }

  finish(): string {
    this.#sse?.end();
    this.outcome ??= this.#failed ? 'error' : 'complete';
    return '';
  }

  get usage(): Usage {
    const units = { character: this.#context.characters };
    if (this.#reported) return { ...this.#reported, units };
    if (this.#context.tokenPriced) return { ...reported(estimateTokens(this.#context.characters), 0), source: 'estimated', units };
    // A per-character model: the characters are exactly what the provider bills, and no tokens.
    return { ...reported(0, 0), units };
  }

  #onEvent(data: string, event: string | undefined): void {
    const parsed = parseObject(data);
    if (parsed === null) return;
    if (event === 'error' || parsed.type === 'error' || (typeof parsed.error === 'object' && parsed.error !== null)) this.#failed = true;
    if (parsed.type === 'speech.audio.done') this.#reported = usageFromOpenAI(parsed.usage, null);
  }
}

function parseObject(data: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Passthrough (/openai/v1/audio/speech): the same reading, with the characters the request sent. */
export function speechTap(characters: number, contentType: string, tokenPriced: boolean): UsageTap {
  const stream = new SpeechStream({ characters, tokenPriced, sse: contentType.includes('text/event-stream') });
  return {
    push: (chunk) => void stream.push(chunk),
    finish: () => {
      stream.finish();
      return { usage: stream.usage, outcome: stream.outcome ?? 'complete', generatedChars: 0 };
    },
  };
}
