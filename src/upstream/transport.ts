/**
 * The upstream HTTP client: one undici Agent (a keep-alive pool per origin) with the configured
 * timeouts. Transport failures become catalog errors (retryable by the catalog); nothing here knows about
 * providers.
 */
import { Agent, type Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config/types.ts';
import { GatewayError } from '../errors/catalog.ts';
import { UpstreamExchange, type UpstreamResponse } from './exchange.ts';

export type { UpstreamBody, UpstreamResponse } from './exchange.ts';

/** Per-attempt limits (undici's per-request headers and body timeouts), tighter than the pool's. */
export interface AttemptLimits {
  /** From sending to the response head; past it the attempt fails with `upstream_timeout` (retryable). */
  firstByteMs?: number;
  /** Longest quiet time between body chunks; past it the body fails (a stream is ended, never cleanly). */
  idleMs?: number;
}

export interface OutboundRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';
  /** Absolute URL. */
  url: string;
  headers: Record<string, string>;
  body: string | Uint8Array | NodeJS.ReadableStream | null;
}

export class Upstream {
  readonly #agent: Agent;
  readonly #config: UpstreamConfig;

  constructor(config: UpstreamConfig) {
    this.#config = config;
    this.#agent = new Agent({
      connections: config.connections,
      keepAliveTimeout: config.keep_alive_timeout_ms,
      headersTimeout: config.headers_timeout_ms,
      bodyTimeout: config.body_timeout_ms,
      connect: { timeout: config.connect_timeout_ms },
    });
  }

  /** Resolves at the response head; the body is read through `response.body`. */
  send(req: OutboundRequest, signal: AbortSignal | null, limits: AttemptLimits = {}): Promise<UpstreamResponse> {
    const { origin, path } = splitUrl(req.url);
    const exchange = new UpstreamExchange(signal, (err) => transportError(err, origin));
    const options: Dispatcher.DispatchOptions = { origin, path, method: req.method, headers: req.headers, body: req.body as Dispatcher.DispatchOptions['body'] };
    // The pool's timeouts stay the ceiling; an attempt's own limits can only be tighter.
    if (limits.firstByteMs !== undefined) options.headersTimeout = Math.min(limits.firstByteMs, this.#config.headers_timeout_ms);
    if (limits.idleMs !== undefined) options.bodyTimeout = Math.min(limits.idleMs, this.#config.body_timeout_ms);
    try {
      this.#agent.dispatch(options, exchange);
    } catch (err) {
      exchange.onResponseError(null, err as Error);
    }
    return exchange.head;
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

/** Splits an absolute URL without a URL object (this runs on every request). */
export function splitUrl(url: string): { origin: string; path: string } {
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return slash === -1 ? { origin: url, path: '/' } : { origin: url.slice(0, slash), path: url.slice(slash) };
}

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** Maps an undici/socket failure to a catalog error (never echoing URLs with secrets: origins only). */
export function transportError(err: unknown, origin: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string }).code ?? '';
  const name = (err as { name?: string }).name ?? '';
  if (name === 'AbortError' || code === 'UND_ERR_ABORTED') {
    return new GatewayError('upstream_unreachable', 'The request was aborted.', { cause: err, details: { aborted: true }, retryable: false });
  }
  if (TIMEOUTS.has(code)) {
    return new GatewayError('upstream_timeout', `The upstream at ${origin} timed out (${code}).`, { cause: err });
  }
  return new GatewayError('upstream_unreachable', `The upstream at ${origin} could not be reached (${code || name || 'error'}).`, {
    cause: err,
  });
}
