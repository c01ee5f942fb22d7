/**
 * node:http's createServer, taken with process.getBuiltinModule: an ES `import … from 'node:http'`
 * builds the module's ES facade, which reads every export, lazy ones included, and so loads Node's
 * internal copy of undici (~1 MB of source, several MB resident) that a server never uses
 * (nodejs/node#59686). Measured: idle RSS (bench/RESULTS.md, "RSS").
 *
 * Also what both listeners share so that no request can take the process down: one top-level catch
 * per listener, the listener timeouts, and answers to requests Node's parser refuses.
 */
import type * as Http from 'node:http';
import type { Duplex } from 'node:stream';

export const { createServer } = process.getBuiltinModule('node:http') as typeof Http;

export interface ListenerLimits {
  headers_timeout_ms: number;
  request_timeout_ms: number;
}

/**
 * Node's listener timeouts from the config: the head within `headers_timeout_ms`, the whole request
 * within `request_timeout_ms` (Node checks both every `connectionsCheckingInterval`, so that is
 * kept well below the head limit). A response being written is not bound by either.
 */
export function listenerTimeouts(limits: ListenerLimits): Pick<Http.ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'> {
  const requestTimeout = limits.request_timeout_ms;
  const headersTimeout = Math.min(limits.headers_timeout_ms, requestTimeout);
  return { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(5_000, Math.floor(headersTimeout / 4))) };
}

/** A request handler whose failures, thrown or rejected, reach `onError` and never the process. */
export function guarded(
  handler: (req: Http.IncomingMessage, res: Http.ServerResponse) => unknown,
  onError: (err: unknown, req: Http.IncomingMessage, res: Http.ServerResponse) => void,
): (req: Http.IncomingMessage, res: Http.ServerResponse) => void {
  return (req, res) => {
    const fail = (err: unknown) => {
      try {
        onError(err, req, res);
      } catch {
        res.destroy();
      }
    };
    try {
      const result = handler(req, res);
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  };
}

/**
 * Answers what Node's parser refuses (a malformed request line or header, a head or request past
 * its timeout) with a short body in the listener's envelope, then closes. As Node's own handler does,
 * nothing is written once a response on that socket has started.
 */
export type ClientErrorCode = 'request_timeout' | 'invalid_request' | 'invalid_request_target';

export function answerClientErrors(server: Http.Server, body: (status: number, code: ClientErrorCode, message: string) => string): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: Http.ServerResponse | null })._httpMessage;
    if (socket.writable && (!inFlight || !inFlight.headersSent)) {
      const [status, reason, code, message]: [number, string, ClientErrorCode, string] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'request_timeout', 'The request did not arrive in time.']
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'Request Header Fields Too Large', 'invalid_request', 'The request headers are too large.']
            : [400, 'Bad Request', 'invalid_request_target', 'The request could not be parsed as HTTP/1.1.'];
      const text = body(status, code, message);
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
    }
    socket.destroy();
  });
}
