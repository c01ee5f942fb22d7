/** Writing to the client with backpressure, and noticing when the client goes away. */
import type { ServerResponse } from 'node:http';

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
  end(tail?: string): void {
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

/** An AbortController that fires when the client disconnects before the response is finished. */
export function abortOnClientClose(res: ServerResponse): AbortController {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller;
}
