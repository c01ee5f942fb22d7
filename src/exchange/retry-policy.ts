/**
 * The one retry decision. Which failures are worth another deployment is data: the error catalog's
 * `retry` flag (the upstream's failures: unreachable, timeouts, 429, 5xx, bad answers, a refused
 * credential), which a GatewayError carries as `retryable`. The route's config bounds the rest:
 * `routing.max_attempts` and `routing.deadline_ms`.
 */
import type { GatewayError } from '../errors/catalog.ts';

export interface RetryState {
  /** Attempts made so far, and how many the plan allows (deployments left, max_attempts). */
  attempts: number;
  maxAttempts: number;
  /** performance.now() mark past which no new attempt starts. */
  deadline: number;
  /** The client left, or the deadline fired. */
  aborted: boolean;
  /** The request body can be sent again. */
  replayable: boolean;
}

export function shouldRetry(error: GatewayError, s: RetryState): boolean {
  return error.retryable && s.replayable && !s.aborted && s.attempts < s.maxAttempts && performance.now() < s.deadline;
}
