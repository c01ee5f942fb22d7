/**
 * One upstream exchange on undici's dispatch callbacks: the response head resolves `head`, body
 * chunks go straight to whoever consumes them. No Readable stream, no async iterator and no promise
 * per chunk (undici's `request()` costs all three on every call, and this runs on every request).
 * Backpressure: a consumer that returns a promise pauses the upstream socket until it settles.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors/catalog.ts';

/** What a chunk consumer answers: go on, stop (abort the upstream), or wait for this first. */
export type ChunkVerdict = boolean | Promise<boolean>;

export interface UpstreamBody {
  /**
   * The whole body; with `limit`, at most about that many bytes (the rest is not read). With
   * `strict`, a body longer than `limit` rejects with `upstream_response_too_large` instead.
   */
  bytes(limit?: number, strict?: boolean): Promise<Buffer>;
  /**
   * Hands every chunk to `onChunk` in order. Resolves 'end' when the body is complete, 'stopped'
   * when `onChunk` answered false (the upstream is then aborted); rejects when the upstream fails
   * (after the chunks received before the failure were handed over). `onEnd` runs when the body is
   * complete, in the same tick as its last chunk (so a last write and the end can share a syscall).
   */
  forEachChunk(onChunk: (chunk: Buffer) => ChunkVerdict, onEnd?: () => void): Promise<'end' | 'stopped'>;
  /** Stops reading and aborts the upstream request. */
  destroy(): void;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
}

export class UpstreamExchange implements Dispatcher.DispatchHandler, UpstreamResponse, UpstreamBody {
  statusCode = 0;
  headers: IncomingHttpHeaders = {};
  readonly head: Promise<UpstreamResponse>;
  readonly #signal: AbortSignal | null;
  readonly #mapError: (err: unknown) => Error;
  #controller: Dispatcher.DispatchController | null = null;
  #resolveHead!: (response: UpstreamResponse) => void;
  #rejectHead!: (err: Error) => void;
  #headSettled = false;
  #chunks: Buffer[] = [];
  #size = 0;
  #ended = false;
  #error: Error | null = null;
  #destroyed = false;
  /** Set while a consumer waits: called when a chunk, the end or an error arrives. */
  #wake: (() => void) | null = null;

  /** `mapError` turns a failure before the response head into the error `head` rejects with. */
  constructor(signal: AbortSignal | null, mapError: (err: unknown) => Error) {
    this.#signal = signal;
    this.#mapError = mapError;
    this.head = new Promise((resolve, reject) => {
      this.#resolveHead = resolve;
      this.#rejectHead = reject;
    });
    if (signal) signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  get body(): UpstreamBody {
    return this;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#signal?.aborted || this.#destroyed) controller.abort(abortReason(this.#signal));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx informational heads are not the answer.
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
    this.#headSettled = true;
    this.#resolveHead(this);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#destroyed) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    this.#wake?.();
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#detach();
    this.#wake?.();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.#error !== null) return;
    this.#error = error;
    this.#detach();
    if (!this.#headSettled) {
      this.#headSettled = true;
      this.#rejectHead(this.#mapError(error));
    }
    this.#wake?.();
  }

  bytes(limit = Infinity, strict = false): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (strict && this.#size > limit) {
          this.#wake = null;
          this.destroy();
          reject(new GatewayError('upstream_response_too_large', `The upstream answer is larger than the limit of ${limit} bytes.`));
          return;
        }
        const full = !strict && this.#size >= limit;
        if (this.#error !== null && !full) {
          this.#wake = null;
          reject(this.#error);
          return;
        }
        if (!this.#ended && !full) return;
        this.#wake = null;
        const chunks = this.#chunks;
        this.#chunks = [];
        if (!this.#ended) this.destroy();
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      };
      this.#wake = check;
      check();
    });
  }

  forEachChunk(onChunk: (chunk: Buffer) => ChunkVerdict, onEnd?: () => void): Promise<'end' | 'stopped'> {
    return new Promise((resolve, reject) => {
      let waiting = false;
      const stop = () => {
        this.#wake = null;
        this.destroy();
        resolve('stopped');
      };
      const drain = () => {
        while (!waiting) {
          const chunk = this.#chunks.shift();
          if (chunk === undefined) {
            if (this.#error !== null) {
              this.#wake = null;
              reject(this.#error);
            } else if (this.#ended) {
              this.#wake = null;
              try {
                onEnd?.();
              } catch (err) {
                reject(err);
                return;
              }
              resolve('end');
            }
            return;
          }
          let verdict: ChunkVerdict;
          try {
            verdict = onChunk(chunk);
          } catch (err) {
            // A consumer's failure is the caller's, not undici's: stop reading and hand it back.
            this.#wake = null;
            this.destroy();
            reject(err);
            return;
          }
          if (verdict === true) continue;
          if (verdict === false) return stop();
          waiting = true;
          this.#controller?.pause();
          verdict.then(
            (go) => {
              waiting = false;
              if (!go) return stop();
              this.#controller?.resume();
              drain();
            },
            (err: unknown) => {
              this.#wake = null;
              this.destroy();
              reject(err);
            },
          );
        }
      };
      this.#wake = drain;
      drain();
    });
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#chunks = [];
    if (!this.#ended && this.#error === null) this.#controller?.abort(abortReason(null));
    this.#detach();
  }

  readonly #onAbort = (): void => {
    this.#controller?.abort(abortReason(this.#signal));
  };

  #detach(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}

function abortReason(signal: AbortSignal | null): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new DOMException('The upstream request was aborted.', 'AbortError');
}
