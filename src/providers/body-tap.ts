/**
 * Passthrough taps for non-streamed bodies: keep a copy (bounded) and read usage at the end. With no
 * usage, the generated size is estimated from the body's bytes.
 */
import type { Usage } from '../metering/usage.ts';
import type { UsageTap } from './contract.ts';
import { errorInSuccess } from './upstream-error.ts';

/**
 * The most of one answer a tap keeps (the body itself streams through unbuffered). Past it, usage
 * is estimated from the byte count. The server lowers it to `limits.max_upstream_body_bytes`.
 */
let tapWindowBytes = 16 * 1024 * 1024;

/** Sets the tap window (from the config); applies to taps created afterwards. */
export function setTapWindow(bytes: number): void {
  tapWindowBytes = bytes;
}

/**
 * Reads usage from the body's bytes, for readers that need not parse it all (usageOfBody). A body
 * that is an error object, or that should be JSON and is not (an HTML error page with a 200), ends
 * as `error` with nothing generated: the money rule charges only what the provider reported.
 */
export function bytesBodyTap(read: (body: Buffer) => Usage | null): UsageTap {
  const window = tapWindowBytes;
  const chunks: Uint8Array[] = [];
  let size = 0;
  return {
    push(chunk) {
      size += chunk.byteLength;
      if (size <= window) chunks.push(chunk);
    },
    finish() {
      if (size > window) return { usage: null, outcome: 'complete', generatedChars: size };
      const body = Buffer.concat(chunks);
      const usage = read(body);
      if (notAnAnswer(body)) return { usage, outcome: 'error', generatedChars: 0 };
      return { usage, outcome: 'complete', generatedChars: size };
    },
  };
}

/** Reads usage from the parsed body. */
export function jsonBodyTap(read: (body: Record<string, unknown>) => Usage | null): UsageTap {
  return bytesBodyTap((bytes) => {
    try {
      const body: unknown = JSON.parse(bytes.toString('utf8'));
      return typeof body === 'object' && body !== null ? read(body as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  });
}

/**
 * An error object, a markup page, or a body that opens like JSON and does not parse. Plain text
 * (transcriptions as text/srt/vtt) is an answer.
 */
function notAnAnswer(body: Buffer): boolean {
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  const first = body[i];
  if (first === 0x3c) return true;
  if (first !== 0x7b && first !== 0x5b) return false;
  if (errorInSuccess(body) !== null) return true;
  try {
    JSON.parse(body.toString('utf8'));
    return false;
  } catch {
    return true;
  }
}

/**
 * What an SSE parser holds: the bytes since the stream's last event boundary (a blank line). A
 * hostile upstream that never ends an event would make it hold everything; past `limit` the stream
 * is treated as broken instead.
 */
export class SseBacklog {
  readonly #limit: number;
  #since = 0;
  #endsWithNewline = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Counts a chunk; false once the event in progress has grown past the limit. */
  push(chunk: Uint8Array): boolean {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const boundary = Math.max(bytes.lastIndexOf('\n\n'), bytes.lastIndexOf('\n\r\n'));
    if (boundary !== -1) this.#since = bytes.length - boundary;
    else if (this.#endsWithNewline && (bytes[0] === 0x0a || (bytes[0] === 0x0d && bytes[1] === 0x0a))) this.#since = bytes.length;
    else this.#since += bytes.length;
    if (bytes.length > 0) this.#endsWithNewline = bytes[bytes.length - 1] === 0x0a;
    return this.#since <= this.#limit;
  }
}
