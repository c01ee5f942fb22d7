/**
 * Gemini error bodies `{error:{code,message,status,details}}` (sometimes wrapped in an array) →
 * GatewayError, through the shared upstreamError. Two Gemini wire facts are handled first:
 * a 429 says when to retry only in a RetryInfo detail (google-429-retry-info.json), and a bad key is
 * a 400 with reason API_KEY_INVALID, not a 401 (_transcribed/error-bodies-from-public-reports.json).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../../errors/catalog.ts';
import type { Target } from '../../routing/target.ts';
import { upstreamError } from '../upstream-error.ts';

interface Detail {
  '@type'?: string;
  reason?: string;
  retryDelay?: string;
}

export function geminiError(target: Target, status: number, headers: IncomingHttpHeaders, raw: Uint8Array): GatewayError {
  const details = errorDetails(raw);
  if (details.some((d) => d.reason === 'API_KEY_INVALID')) {
    // The gateway's key was refused, not the caller's: same answer as a 401 (see upstream-error.ts).
    return new GatewayError('upstream_auth_failed', `The ${target.provider.name} credential was rejected by the provider (HTTP ${status}).`, {
      details: { provider: target.provider.name, upstream_status: status, upstream_code: 'API_KEY_INVALID' },
    });
  }
  const delay = details.find((d) => d['@type']?.endsWith('google.rpc.RetryInfo'))?.retryDelay;
  const seconds = delay === undefined ? NaN : Number.parseFloat(delay);
  const withRetryAfter = headers['retry-after'] === undefined && Number.isFinite(seconds) ? { ...headers, 'retry-after': String(Math.ceil(seconds)) } : headers;
  return upstreamError(target, status, withRetryAfter, raw);
}

function errorDetails(raw: Uint8Array): Detail[] {
  try {
    const body: unknown = JSON.parse(Buffer.from(raw).toString('utf8'));
    const root = (Array.isArray(body) ? body[0] : body) as { error?: { details?: unknown } } | null;
    const details = root?.error?.details;
    return Array.isArray(details) ? (details as Detail[]) : [];
  } catch {
    return [];
  }
}
