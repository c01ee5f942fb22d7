/**
 * A circuit breaker sized for sidecar traffic: it opens on the provider-fault ratio over a window,
 * but only once the window holds a minimum number of requests (one error never opens it); an
 * explicit Retry-After holds it open for that long; after the open period it lets traffic back
 * gradually (half-open ramp) and reopens on the first fault while ramping.
 */
import { HealthWindow } from './health.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerPolicy {
  window_ms: number;
  min_requests: number;
  /** Fault ratio (0..1) at or above which the breaker opens. */
  failure_ratio: number;
  open_ms: number;
  /** How long half-open takes to go from a trickle back to all traffic. */
  ramp_ms: number;
}

/** Share of traffic let through at the start of half-open. */
const RAMP_START = 0.1;

export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #window: HealthWindow;
  #openUntil = 0;
  #halfOpenSince = 0;
  /** Open because the provider asked for a pause (Retry-After), not because of a fault ratio. */
  #held = false;
  readonly #policy: BreakerPolicy;
  readonly #random: () => number;

  constructor(policy: BreakerPolicy, random: () => number = Math.random) {
    this.#policy = policy;
    this.#random = random;
    this.#window = new HealthWindow(policy.window_ms);
  }

  state(now = Date.now()): BreakerState {
    if (this.#state === 'open' && now >= this.#openUntil) {
      this.#state = 'half_open';
      this.#halfOpenSince = this.#openUntil;
    }
    if (this.#state === 'half_open' && now - this.#halfOpenSince >= this.#policy.ramp_ms) this.#close();
    return this.#state;
  }

  /** Until when an open breaker refuses traffic (0 when not open). */
  openUntil(now = Date.now()): number {
    return this.state(now) === 'open' ? this.#openUntil : 0;
  }

  /** May a request go to this deployment now? Half-open lets a growing share through. */
  allow(now = Date.now()): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open') return false;
    const share = RAMP_START + (1 - RAMP_START) * ((now - this.#halfOpenSince) / this.#policy.ramp_ms);
    return this.#random() < share;
  }

  record(providerFault: boolean, now = Date.now()): void {
    const state = this.state(now);
    if (state === 'open') return;
    if (state === 'half_open') {
      if (providerFault) this.#open(now + this.#policy.open_ms);
      return;
    }
    this.#window.observe({ statusClass: providerFault ? '5xx' : '2xx', providerFault, latencyMs: 0, ttfbMs: null }, now);
    const { total, faults } = this.#window.counts(now);
    if (total >= this.#policy.min_requests && faults / total >= this.#policy.failure_ratio) this.#open(now + this.#policy.open_ms);
  }

  /** The provider said when to come back (429 Retry-After): stay away at least that long. */
  holdUntil(until: number, now = Date.now()): void {
    if (until <= now) return;
    const open = this.state(now) === 'open';
    if (open && this.#openUntil >= until) return;
    const openForFaults = open && !this.#held;
    this.#open(until);
    this.#held = !openForFaults;
  }

  /** Open only because the provider asked for a pause. */
  heldByProvider(now = Date.now()): boolean {
    return this.state(now) === 'open' && this.#held;
  }

  #open(until: number): void {
    this.#state = 'open';
    this.#openUntil = until;
    this.#held = false;
  }

  #close(): void {
    this.#state = 'closed';
    this.#window = new HealthWindow(this.#policy.window_ms);
  }
}
