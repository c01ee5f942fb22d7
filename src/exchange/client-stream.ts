/** Writing to the client with backpressure, and noticing when the client goes away. */
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors/catalog.ts';

/**
 * A streamed response's writer. What is written in one tick (one upstream read often carries
 * several events) goes to the response as one write at the end of the tick: one chunk of the
 * chunked encoding and one system call instead of one per event, and no delay. Backpressure: once
 * the socket's buffer is full, `write` answers a promise that settles on 'drain' (true) or when the
 * client leaves (false); `false` right away once it has left.
 */
export class StreamWriter {
  readonly #res: ServerResponse;
  #pending: (string | Uint8Array)[] = [];
  #scheduled = false;
  #blocked: Promise<boolean> | null = null;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  write(data: string | Uint8Array): boolean | Promise<boolean> {
    if (this.#res.destroyed) return false;
    this.#pending.push(data);
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(flushWriter, this);
    }
    return this.#blocked ?? true;
  }

  /** Writes what is pending, then ends the response with `tail`. */
  end(tail?: string | Uint8Array): void {
    this.flush();
    if (!this.#res.writableEnded) this.#res.end(tail);
  }

  flush(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    if (pending.length === 0 || this.#res.writableEnded || this.#res.destroyed) return;
    this.#pending = [];
    const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    if (this.#res.write(data) || this.#blocked) return;
    this.#blocked = new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.#res.off('drain', onDrain);
        this.#res.off('close', onClose);
        this.#blocked = null;
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      this.#res.on('drain', onDrain);
      this.#res.on('close', onClose);
    });
  }
}

function flushWriter(writer: StreamWriter): void {
  writer.flush();
}

/**
 * An AbortController that fires when the client disconnects before the response is finished. The
 * handler may abort it too, with a GatewayError as the reason (the routing deadline).
 */
export function abortOnClientClose(res: ServerResponse): AbortController {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller;
}

/** The signal fired because the client went away (not because the handler gave up with an error). */
export function clientLeft(signal: AbortSignal): boolean {
  return signal.aborted && !(signal.reason instanceof GatewayError);
}

/**
 * Answers with a whole body whose last byte waits for `written` (the charge is in the ledger file).
 * A small body is held whole (one write, and a client cannot use part of a JSON body anyway); a
 * large one goes out at once but for its last byte.
 */
export async function sendAfter(
  res: ServerResponse,
  status: number,
  body: string | Uint8Array,
  headers: Record<string, string>,
  written: Promise<void>,
): Promise<void> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(bytes.byteLength), ...headers });
  if (bytes.byteLength <= HOLD_WHOLE_BYTES) {
    await written;
    res.end(bytes);
    return;
  }
  res.write(bytes.subarray(0, bytes.byteLength - 1));
  await written;
  res.end(bytes.subarray(bytes.byteLength - 1));
}

const HOLD_WHOLE_BYTES = 64 * 1024;

/** Where an OpenAI-style stream ends for its SDKs: they stop reading at `data: [DONE]`. */
const DONE_EVENT = 'data: [DONE]';
const DONE_EVENT_BYTES = Buffer.from(DONE_EVENT);

/** Where `data: [DONE]` starts in `out`, or -1. */
export function doneEventAt(out: string | Uint8Array): number {
  return typeof out === 'string' ? out.indexOf(DONE_EVENT) : Buffer.from(out.buffer, out.byteOffset, out.byteLength).indexOf(DONE_EVENT_BYTES);
}
