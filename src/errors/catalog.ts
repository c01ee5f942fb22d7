/**
 * The one catalog of gateway errors. Every failure the gateway reports has a stable `code`, an HTTP
 * status and an OpenAI-style `type`; handlers throw `GatewayError`s built from here and one renderer
 * (src/server/respond.ts) turns them into the envelope the route owes. `retry: true` marks the
 * upstream's failures that another deployment may serve (the retry policy's data).
 */
export const ERROR_CATALOG = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  /** A request target (path or query) that is not valid: malformed percent-escapes, control bytes. */
  invalid_request_target: { status: 400, type: 'invalid_request_error' },
  /** A JSON body nested deeper than `limits.max_json_depth`: refused before it is parsed. */
  json_too_deep: { status: 400, type: 'invalid_request_error' },
  /** The request (its headers, or its body between two chunks) did not arrive in time. */
  request_timeout: { status: 408, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  missing_api_key: { status: 401, type: 'authentication_error' },
  invalid_api_key: { status: 401, type: 'authentication_error' },
  org_mismatch: { status: 403, type: 'permission_error' },
  forbidden: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  // Admission denials, rendered as the flat DenialEnvelope (src/admission/denial.ts).
  credits_exhausted: { status: 402, type: 'insufficient_quota' },
  model_not_in_plan: { status: 403, type: 'permission_error' },
  provider_not_in_plan: { status: 403, type: 'permission_error' },
  rpm_exceeded: { status: 429, type: 'rate_limit_error' },
  tpm_exceeded: { status: 429, type: 'rate_limit_error' },
  /** The shared state store (Redis) is unreachable and state.on_unavailable is `deny`: managed calls wait. */
  state_unavailable: { status: 503, type: 'service_unavailable' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  model_retired: { status: 410, type: 'invalid_request_error' },
  deprecation_chain_unresolvable: { status: 422, type: 'invalid_request_error' },
  operation_not_supported: { status: 400, type: 'invalid_request_error' },
  passthrough_path_not_allowed: { status: 404, type: 'invalid_request_error' },
  /** A passthrough path with a dot segment, a backslash or a double encoding, in any spelling. */
  passthrough_path_invalid: { status: 400, type: 'invalid_request_error' },
  provider_not_found: { status: 404, type: 'invalid_request_error' },
  no_deployment_available: { status: 503, type: 'service_unavailable' },
  credential_unavailable: { status: 503, type: 'service_unavailable' },
  credential_not_found: { status: 404, type: 'invalid_request_error' },
  /** A new secret the provider refused: nothing was activated. */
  credential_invalid: { status: 400, type: 'invalid_request_error' },
  /** A new secret that could not be verified (provider unreachable): nothing was activated. */
  credential_unverified: { status: 502, type: 'upstream_error' },
  /** A verification call aimed at a host the operator's config does not allow (metadata, private, loopback…). */
  verification_target_refused: { status: 400, type: 'invalid_request_error' },
  /** The credential API's encrypted store has no usable key: nothing is stored, never in plaintext. */
  credential_store_unavailable: { status: 500, type: 'server_error' },
  upstream_error: { status: 502, type: 'upstream_error', retry: true },
  upstream_invalid_request: { status: 400, type: 'invalid_request_error' },
  /** The gateway's credential was refused: another deployment (another credential) may serve. */
  upstream_auth_failed: { status: 502, type: 'upstream_error', retry: true },
  upstream_rate_limited: { status: 429, type: 'rate_limit_error', retry: true },
  upstream_timeout: { status: 504, type: 'timeout_error', retry: true },
  upstream_unreachable: { status: 502, type: 'upstream_error', retry: true },
  upstream_bad_response: { status: 502, type: 'upstream_error', retry: true },
  /** An upstream answer past limits.max_upstream_body_bytes: never buffered whole. */
  upstream_response_too_large: { status: 502, type: 'upstream_error', retry: true },
  upstream_stream_truncated: { status: 502, type: 'upstream_error' },
  internal_error: { status: 500, type: 'server_error' },
} as const satisfies Record<string, { status: number; type: string; retry?: boolean }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/**
 * The retry policy's data: codes marked `retry` are the upstream's failures, worth another
 * deployment (src/exchange/retry-policy.ts decides with it, once for every route).
 */
const RETRY_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set(
  (Object.keys(ERROR_CATALOG) as ErrorCode[]).filter((code) => (ERROR_CATALOG[code] as { retry?: boolean }).retry === true),
);

export interface GatewayErrorOptions {
  /** Override the catalog status (upstream errors keep the upstream's status). */
  status?: number;
  type?: string;
  param?: string | null;
  /**
   * Safe to retry on another deployment. Defaults to the catalog's `retry` (the upstream's failures:
   * connection errors, timeouts, 429, 5xx, bad answers); set only to override it for one error.
   */
  retryable?: boolean;
  /** Response headers the client should see (e.g. Retry-After). */
  headers?: Record<string, string>;
  /** Extra fields rendered inside the error object (e.g. provider, upstream_status). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** A failure with a stable code from ERROR_CATALOG. The message must never contain a secret. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly retryable: boolean;
  readonly headers: Record<string, string>;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? ERROR_CATALOG[code].status;
    this.type = options.type ?? ERROR_CATALOG[code].type;
    this.param = options.param ?? null;
    this.retryable = options.retryable ?? RETRY_BY_DEFAULT.has(code);
    this.headers = options.headers ?? {};
    this.details = options.details ?? {};
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
