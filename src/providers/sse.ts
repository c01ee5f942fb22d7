/** Server-sent events: reading upstream streams and writing client ones, shared by every adapter. */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseReader {
  /** Feeds bytes; returns them decoded (the text the parser was fed). */
  push(chunk: Uint8Array): string;
  /** Flushes a last event that had no blank line after it. */
  end(): void;
}

export function createSseReader(onEvent: (event: EventSourceMessage) => void, onComment?: (comment: string) => void): SseReader {
  const decoder = new TextDecoder();
  const parser = createParser({ onEvent, onComment });
  return {
    push: (chunk) => {
      const text = decoder.decode(chunk, { stream: true });
      parser.feed(text);
      return text;
    },
    end: () => {
      const rest = decoder.decode();
      if (rest) parser.feed(rest);
      parser.feed('\n\n');
    },
  };
}

export function sseEvent(data: string, event?: string): string {
  return event ? `event: ${event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}

/**
 * The explicit error event a unified stream ends with when the upstream failed or was cut: the
 * OpenAI SDKs raise it as an APIError instead of reporting a clean end.
 */
export function sseErrorEvent(code: string, message: string, details: Record<string, unknown> = {}): string {
  return sseEvent(JSON.stringify({ error: { message, type: 'upstream_error', code, ...details } }), 'error');
}
