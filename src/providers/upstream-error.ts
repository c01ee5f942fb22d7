/**
 * Upstream error responses → GatewayError, one mechanism for every provider. Provider error bodies
 * differ in shape (recordings and _transcribed/error-bodies-from-public-reports.json):
 *   OpenAI/Groq/DeepSeek  {error:{message,type,param?,code}}
 *   Anthropic             {type:"error", error:{type,message}}
 *   Gemini                {error:{code,message,status}}  (sometimes wrapped in an array)
 *   xAI bad key           {code, error:"<message>"}
 *   Mistral, Cohere       {message} or {detail}
 *   Bedrock               {message} + x-amzn-ErrorType header
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors/catalog.ts';
import type { Target } from '../routing/target.ts';
import { redactSecrets } from '../util/redact.ts';

export interface UpstreamErrorInfo {
  message: string;
  code: string | null;
  type: string | null;
}

export function parseUpstreamError(raw: Uint8Array, headers: IncomingHttpHeaders): UpstreamErrorInfo {
  const text = Buffer.from(raw).toString('utf8');
  const amznType = header(headers, 'x-amzn-errortype')?.split(':')[0] ?? null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { message: text.trim().slice(0, 500) || 'no error body', code: amznType, type: amznType };
  }
  const root = (Array.isArray(body) ? body[0] : body) as Record<string, unknown> | null;
  const error = root?.error;
  const nested = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : null;
  const message =
    str(nested?.message) ?? (typeof error === 'string' ? safeDecode(error) : null) ?? str(root?.message) ?? str(root?.Message) ?? str(root?.detail) ?? text.slice(0, 500);
  return {
    message,
    code: (typeof nested?.code === 'string' ? nested.code : null) ?? str(nested?.status) ?? amznType ?? str(root?.code),
    type: str(nested?.type) ?? amznType ?? str(root?.type === 'error' ? null : root?.type),
  };
}

const ERROR_KEY = Buffer.from('"error"');

/**
 * A 2xx body that is really an error: `{"error": …}` (OpenAI and most others), Anthropic's
 * `{"type":"error", …}`, Gemini's `[{"error": …}]`. Its info, or null. Only bodies that mention
 * `"error"` are parsed (a success body `"error": null`, as in OpenAI's Responses objects, is not one).
 */
export function errorInSuccess(raw: Buffer): UpstreamErrorInfo | null {
  if (raw.indexOf(ERROR_KEY) === -1) return null;
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return null;
  }
  const root = (Array.isArray(body) ? body[0] : body) as Record<string, unknown> | null;
  if (typeof root !== 'object' || root === null) return null;
  const error = root.error;
  const isError = root.type === 'error' || (typeof error === 'object' && error !== null) || (typeof error === 'string' && error.length > 0);
  return isError ? parseUpstreamError(raw, {}) : null;
}

/**
 * The gateway error for a 2xx answer that is not one (not JSON, or an error object): a 502 counted
 * as the upstream's failure (health, fallback), with the provider's message capped and scrubbed.
 */
export function badSuccess(target: Target, info: UpstreamErrorInfo | null): GatewayError {
  const provider = target.provider.name;
  if (info === null) {
    return new GatewayError('upstream_bad_response', `${target.provider.display_name} answered 200 with a body that is not a valid response.`, {
      details: { provider },
    });
  }
  const secret = target.credential.secret?.reveal();
  const message = redactSecrets(info.message.slice(0, 500), secret === undefined ? [] : [secret]);
  return new GatewayError('upstream_error', `${target.provider.display_name} answered 200 with an error: ${message}`, {
    details: { provider, upstream_status: 200, upstream_code: info.code },
  });
}

/** Overload signals that deserve a retry elsewhere even when the status does not say so. */
const OVERLOADED = /overloaded|ThrottlingException|ServiceUnavailable|ModelNotReady|RESOURCE_EXHAUSTED|UNAVAILABLE/i;

/**
 * Maps an upstream failure. The upstream's status and message are kept (a 429 stays a 429 with its
 * Retry-After), except that 401/403 from a provider become 502: the gateway's credential was
 * refused, not the caller's, and the upstream text may quote part of that key.
 */
export function upstreamError(target: Target, status: number, headers: IncomingHttpHeaders, raw: Uint8Array): GatewayError {
  const provider = target.provider.name;
  const info = parseUpstreamError(raw, headers);
  const details = { provider, upstream_status: status, upstream_code: info.code };
  if (status === 401 || status === 403) {
    return new GatewayError('upstream_auth_failed', `The ${provider} credential was rejected by the provider (HTTP ${status}).`, {
      details,
    });
  }
  const secret = target.credential.secret?.reveal();
  const message = redactSecrets(info.message, secret === undefined ? [] : [secret]);
  const retryAfter = header(headers, 'retry-after');
  const clientHeaders: Record<string, string> = retryAfter ? { 'retry-after': retryAfter } : {};
  if (status === 408) {
    // The provider gave up waiting on its model (Bedrock ModelTimeoutException): a gateway timeout, worth a retry.
    return new GatewayError('upstream_timeout', message, { details, headers: clientHeaders });
  }
  if (status === 429) {
    return new GatewayError('upstream_rate_limited', message, { status, details, headers: clientHeaders });
  }
  if (status >= 500 || OVERLOADED.test(`${info.code} ${info.type}`)) {
    return new GatewayError('upstream_error', message, { status: status >= 400 ? status : 502, details, headers: clientHeaders });
  }
  if (status === 402) {
    // The provider account behind a managed key is out of funds: not the caller's doing.
    return new GatewayError('upstream_error', message, { details });
  }
  return new GatewayError('upstream_invalid_request', message, {
    status,
    type: info.type ?? 'invalid_request_error',
    details,
  });
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
