/**
 * What routing knows about the world: per deployment a health window (for operators) and a
 * circuit breaker (for routing), per credential whether a provider has refused it. Fed by every
 * attempt; consulted before each one. Long-lived: it survives config reloads.
 */
import { LRUCache } from 'lru-cache';
import { credentialRegion } from '../credentials/aws/credential-string.ts';
import type { Secret } from '../credentials/secret.ts';
import { CircuitBreaker, type BreakerState } from './breaker.ts';
import { HealthWindow, keyOf, type DeploymentKey, type OutcomeClass } from './health.ts';
import type { RoutingPolicy } from './policy.ts';
import type { Target } from './target.ts';

export type { RoutingPolicy } from './policy.ts';

export type Strategy = 'priority' | 'weighted' | 'least-latency';

export interface Choice {
  /** Deployments to try, in order. */
  usable: Target[];
  /** Why the others are left out, one sentence each. */
  refused: string[];
  /** When the first refused deployment may serve again, in ms. */
  waitMs: number | null;
  /** Every deployment is held back by a provider's own Retry-After. */
  rateLimited: boolean;
}

/** How one attempt ended, as routing classifies it. */
export interface AttemptOutcome {
  /** HTTP status from the upstream, or null when none arrived (connection error, timeout). */
  status: number | null;
  /** The answer started fine but its stream failed or was cut. */
  streamFailed?: boolean;
  latencyMs: number;
  ttfbMs: number | null;
  /** Retry-After the provider sent, in ms. */
  retryAfterMs?: number | null;
}

interface Deployment {
  key: DeploymentKey;
  window: HealthWindow;
  breaker: CircuitBreaker;
  /** `from>to` → how many times the breaker moved that way. */
  transitions: Map<string, number>;
}

export interface BreakerTransitionCount {
  from: BreakerState;
  to: BreakerState;
  count: number;
}

export interface DeploymentHealth extends DeploymentKey {
  success_rate: number | null;
  p50_latency_ms: number | null;
  p50_ttfb_ms: number | null;
  requests: number;
  last_check: string | null;
  breaker: BreakerState;
  open_until: string | null;
  /** Breaker state changes since this deployment was first seen by this process. */
  breaker_transitions: BreakerTransitionCount[];
}

export interface RoutingHealthOptions {
  random?: () => number;
  /** Milliseconds since the epoch; every method's `now` defaults to it (tests drive it). */
  clock?: () => number;
}

export class RoutingHealth {
  readonly policy: RoutingPolicy;
  readonly #deployments: LRUCache<string, Deployment>;
  /** Credential id → the key the provider refused and until when it stays aside. */
  readonly #refusedCredentials = new Map<string, { secret: Secret | null; until: number }>();
  readonly #random: () => number;
  readonly #clock: () => number;

  constructor(policy: RoutingPolicy, options: RoutingHealthOptions = {}) {
    this.policy = policy;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? Date.now;
    this.#deployments = new LRUCache({ max: 4096 });
  }

  /**
   * The plan in the order the strategy wants, without deployments that cannot serve now (open
   * breaker, refused credential). `waitMs` says when the first refused one may serve again.
   */
  choose(targets: Target[], strategy: Strategy, now = this.#clock()): Choice {
    const usable: Target[] = [];
    const refused: string[] = [];
    let waitMs: number | null = null;
    let onlyRateLimited = true;
    for (const t of order(targets, strategy, this, this.#random)) {
      const refusal = this.#refusedCredentials.get(t.credential.id);
      // A rotated credential carries a new key: the refusal was for the old one.
      const credentialUntil = refusal && refusal.secret === t.credential.secret ? refusal.until : 0;
      if (credentialUntil > now) {
        refused.push(`${t.provider.name}: credential '${t.credential.id}' was refused by the provider`);
        waitMs = Math.min(waitMs ?? Infinity, credentialUntil - now);
        onlyRateLimited = false;
        continue;
      }
      const breaker = this.#deployment(t).breaker;
      if (!breaker.allow(now)) {
        const until = breaker.openUntil(now);
        const rateLimited = breaker.heldByProvider(now);
        refused.push(`${t.provider.name}: ${rateLimited ? 'rate limited by the provider' : 'circuit open'}${until ? ` until ${new Date(until).toISOString()}` : ' (ramping up)'}`);
        if (until) waitMs = Math.min(waitMs ?? Infinity, until - now);
        onlyRateLimited &&= rateLimited;
        continue;
      }
      usable.push(t);
    }
    return { usable, refused, waitMs, rateLimited: usable.length === 0 && refused.length > 0 && onlyRateLimited };
  }

  /** Feeds one attempt's outcome to the deployment's window and breaker. */
  observe(target: Target, outcome: AttemptOutcome, now = this.#clock()): void {
    const d = this.#deployment(target);
    const { status } = outcome;
    if (status === 401 || status === 403) {
      // The credential, not the provider, is at fault.
      this.#refusedCredentials.set(target.credential.id, { secret: target.credential.secret, until: now + this.policy.credential_cooldown_ms });
    }
    const fault = status === null || status >= 500 || status === 429 || outcome.streamFailed === true;
    const statusClass: OutcomeClass = status === null || outcome.streamFailed || status >= 500 ? '5xx' : status >= 400 ? '4xx' : '2xx';
    d.window.observe({ statusClass, providerFault: fault, latencyMs: outcome.latencyMs, ttfbMs: outcome.ttfbMs }, now);
    d.breaker.record(fault, now, now - outcome.latencyMs);
    if (status === 429 && outcome.retryAfterMs) d.breaker.holdUntil(now + outcome.retryAfterMs, now);
  }

  p50LatencyMs(target: Target): number | null {
    return this.#deployment(target).window.p50LatencyMs();
  }

  /** For the admin endpoint and the metrics: one line per deployment seen. */
  snapshot(now = this.#clock()): DeploymentHealth[] {
    return [...this.#deployments.values()].map(({ key, window, breaker, transitions }) => {
      const openUntil = breaker.openUntil(now);
      return {
        ...key,
        success_rate: window.successRate(now),
        p50_latency_ms: window.p50LatencyMs(),
        p50_ttfb_ms: window.p50TtfbMs(),
        requests: window.counts(now).total,
        last_check: window.lastCheck ? new Date(window.lastCheck).toISOString() : null,
        breaker: breaker.state(now),
        open_until: openUntil ? new Date(openUntil).toISOString() : null,
        breaker_transitions: [...transitions].map(([move, count]) => {
          const [from, to] = move.split('>') as [BreakerState, BreakerState];
          return { from, to, count };
        }),
      };
    });
  }

  #deployment(t: Target): Deployment {
    const key = deploymentKey(t);
    const id = keyOf(key);
    let d = this.#deployments.get(id);
    if (!d) {
      const transitions = new Map<string, number>();
      const onTransition = (from: BreakerState, to: BreakerState) => transitions.set(`${from}>${to}`, (transitions.get(`${from}>${to}`) ?? 0) + 1);
      const breaker = new CircuitBreaker(this.policy.breaker, { random: this.#random, clock: this.#clock, onTransition });
      d = { key, window: new HealthWindow(this.policy.health_window_ms), breaker, transitions };
      this.#deployments.set(id, d);
    }
    return d;
  }
}

export function deploymentKey(t: Target): DeploymentKey {
  const region = credentialRegion(t.provider, t.credential);
  return {
    provider: t.provider.name,
    model: t.model?.model_id ?? t.upstreamModel,
    region: 'region' in region ? region.region : t.credential.region,
    credential: t.credential.id,
  };
}

function order(targets: Target[], strategy: Strategy, health: RoutingHealth, random: () => number): Target[] {
  if (strategy === 'least-latency') {
    // Unknown latency sorts first, so a deployment never tried gets explored.
    return [...targets].sort((a, b) => (health.p50LatencyMs(a) ?? 0) - (health.p50LatencyMs(b) ?? 0));
  }
  if (strategy === 'weighted') {
    const pool = [...targets];
    const out: Target[] = [];
    while (pool.length > 0) {
      const total = pool.reduce((sum, t) => sum + t.weight, 0);
      let pick = random() * total;
      const i = pool.findIndex((t) => (pick -= t.weight) < 0);
      out.push(...pool.splice(i === -1 ? pool.length - 1 : i, 1));
    }
    return out;
  }
  return targets;
}
