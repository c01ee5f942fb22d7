/**
 * Errors in Anthropic's shape, for the Messages API route: `{type: 'error', error: {type, message}}`
 * as a body, and as an `event: error` inside a stream (what @anthropic-ai/sdk raises as APIError).
 */
import type { GatewayError } from '../../errors/catalog.ts';
import { sseEvent } from '../sse.ts';

/** Anthropic's error type for an HTTP status (docs.anthropic.com "Errors"). */
export function anthropicErrorType(status: number): string {
  if (status === 400 || status === 405 || status === 422) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 402) return 'billing_error';
  if (status === 403) return 'permission_error';
  if (status === 404 || status === 410) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503 || status === 529) return 'overloaded_error';
  if (status === 504) return 'timeout_error';
  return 'api_error';
}

export function anthropicErrorBody(status: number, message: string, code?: string): string {
  return JSON.stringify({ type: 'error', error: { type: anthropicErrorType(status), message, ...(code ? { code } : {}) } });
}

export function anthropicErrorEvent(err: Pick<GatewayError, 'status' | 'message' | 'code'>): string {
  return sseEvent(anthropicErrorBody(err.status, err.message, err.code), 'error');
}
