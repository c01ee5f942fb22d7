/**
 * Routing's policy as the config states it. Apart from routing-health.ts so that config/types.ts
 * can name it without importing routing's runtime (and, through it, credentials → config: a cycle).
 */
import type { BreakerPolicy } from './breaker.ts';

export interface RoutingPolicy {
  max_attempts: number;
  /** Time allowed for all attempts before the first byte reaches the caller. */
  deadline_ms: number;
  health_window_ms: number;
  /** How long a credential a provider refused (401/403) is left aside. */
  credential_cooldown_ms: number;
  breaker: BreakerPolicy;
}
