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

/**
 * Messages can quote what came from elsewhere (an upstream's error text, a caller's path): what a
 * client or a log line gets of one is bounded. JSON encoding escapes the rest.
 */
export const MAX_ERROR_MESSAGE_CHARS = 2000;

export function boundedMessage(message: string): string {
  return message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS)}… (${message.length - MAX_ERROR_MESSAGE_CHARS} more characters)` : message;
}

export function openAIErrorBody(err: GatewayError): string {
  return JSON.stringify({ error: { message: boundedMessage(err.message), type: err.type, param: err.param, code: err.code, ...err.details } });
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
    if (!res.writableEnded) res.end(sseErrorEvent(err.code, boundedMessage(err.message), err.details));
    return;
  }
  const body = isDenial(err) ? JSON.stringify(err.envelope) : openAIErrorBody(err);
  sendJson(res, err.status, body, { ...headers, ...err.headers });
}
