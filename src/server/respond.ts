/** The one place errors are rendered: OpenAI-shaped on the proxy listener, admission denials as the flat DenialEnvelope. */
import type { ServerResponse } from 'node:http';
import { isDenial } from '../admission/denial.ts';
import { GatewayError, isGatewayError } from '../errors/catalog.ts';
import type { Logger } from '../util/log.ts';
import { sseErrorEvent } from '../providers/sse.ts';

export function sendJson(res: ServerResponse, status: number, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function openAIErrorBody(err: GatewayError): string {
  return JSON.stringify({ error: { message: err.message, type: err.type, param: err.param, code: err.code, ...err.details } });
}

/** Any thrown value → a catalog error; unknown ones are logged and become internal_error. */
export function toGatewayError(err: unknown, log: Logger): GatewayError {
  if (isGatewayError(err)) return err;
  log.error({ err }, 'unexpected error');
  return new GatewayError('internal_error', 'Tollbooth hit an internal error; the request was not completed.');
}

/**
 * Sends `err` to the client. Once a stream has started, the only honest thing left is an explicit
 * error event, then the end.
 */
export function sendError(res: ServerResponse, err: GatewayError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end(sseErrorEvent(err.code, err.message, err.details));
    return;
  }
  const body = isDenial(err) ? JSON.stringify(err.envelope) : openAIErrorBody(err);
  sendJson(res, err.status, body, { ...headers, ...err.headers });
}
