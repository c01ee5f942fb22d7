/**
 * AWS event-stream framing (application/vnd.amazon.eventstream), as ConverseStream sends it.
 * Each message is `total_length(4) headers_length(4) prelude_crc(4) headers payload message_crc(4)`;
 * the reader cuts the byte stream into whole messages and decodes each with @smithy/eventstream-codec,
 * which checks both CRCs. The prelude CRC is checked as soon as 12 bytes are in, so a corrupt length
 * is caught before waiting for bytes that will never come. A corrupt message ends the reading:
 * nothing after it can be trusted.
 */
import { crc32 } from 'node:zlib';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import type { Message, MessageHeaderValue } from '@smithy/types';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

const PRELUDE_BYTES = 12;
const MIN_MESSAGE_BYTES = 16;
/** Far above any real event; a larger length means the framing is corrupt, not a big event. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

export const codec = new EventStreamCodec(toUtf8, fromUtf8);

export class EventStreamReader {
  #buffer: Uint8Array = new Uint8Array(0);
  /** Why the stream stopped being readable, once it did. */
  corrupt: string | null = null;

  /** Feeds bytes; returns the messages completed by them. */
  push(chunk: Uint8Array): Message[] {
    if (this.corrupt !== null) return [];
    this.#buffer = this.#buffer.byteLength === 0 ? chunk : concat(this.#buffer, chunk);
    const messages: Message[] = [];
    while (this.#buffer.byteLength >= PRELUDE_BYTES) {
      const view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.byteLength);
      const length = view.getUint32(0, false);
      if (crc32(this.#buffer.subarray(0, 8)) !== view.getUint32(8, false)) {
        this.corrupt = 'an event-stream message failed its prelude checksum';
        break;
      }
      if (length < MIN_MESSAGE_BYTES || length > MAX_MESSAGE_BYTES) {
        this.corrupt = `an event-stream message declares an impossible length (${length} bytes)`;
        break;
      }
      if (this.#buffer.byteLength < length) break;
      try {
        messages.push(codec.decode(this.#buffer.subarray(0, length)));
      } catch (err) {
        this.corrupt = `an event-stream message failed its checks (${(err as Error).message})`;
        break;
      }
      this.#buffer = this.#buffer.subarray(length);
    }
    return messages;
  }

  /** Bytes of a message that had started but not finished when the stream ended. */
  get pendingBytes(): number {
    return this.#buffer.byteLength;
  }
}

/** A header's value as a string (':event-type', ':message-type', ':exception-type' are strings). */
export function headerString(message: Message, name: string): string | null {
  const header: MessageHeaderValue | undefined = message.headers[name];
  return header?.type === 'string' ? header.value : null;
}

/** The message's JSON payload, or null when it is not a JSON object. */
export function payloadJson(message: Message): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(toUtf8(message.body));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
