/**
 * A circuit breaker sized for sidecar traffic. One rule in every state: it opens when the
 * provider-fault ratio over its window reaches `failure_ratio`, once the window holds `min_requests`
 * (one error never opens it; a deployment steadily below the ratio is never opened). After the open
 * period it lets traffic back gradually (half-open ramp) and judges what the ramp let through by
 * that same rule: back at its normal error rate, it closes at the end of the ramp; still at or above
 * the ratio, it opens again, for longer each time it trips in a row (capped). An explicit
 * Retry-After holds it open for that long.
 */
import { HealthWindow } from './health.ts';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerPolicy {
  window_ms: number;
  min_requests: number;
  /** Fault ratio (0..1) at or above which the breaker opens. */
  failure_ratio: number;
  /** Open period after a first trip; it doubles with each trip that follows, up to `max_open_ms`. */
  open_ms: number;
  max_open_ms: number;
  /** How long half-open takes to go from a trickle back to all traffic. */
  ramp_ms: number;
}

export interface BreakerOptions {
  random?: () => number;
  /** Milliseconds since the epoch; every method's `now` defaults to it. */
  clock?: () => number;
  /** Called on every change of state (an open breaker whose period is extended does not change). */
  onTransition?: (from: BreakerState, to: BreakerState) => void;
}

/** Share of traffic let through at the start of half-open. */
const RAMP_START = 0.1;

export class CircuitBreaker {
  #state: BreakerState = 'closed';
  /** Outcomes judged by the rule: since the last ramp began (all of them before any trip). */
  #window: HealthWindow;
  /** Attempts sent before this are not judged: they went out before the ramp let anything through. */
  #judgedSince = -Infinity;
  #openUntil = 0;
  #halfOpenSince = 0;
  #closedSince = -Infinity;
  /** Fault trips in a row (a failed ramp, a relapse within a window of closing): each doubles the open period. */
  #trips = 0;
  /** Open because the provider asked for a pause (Retry-After), not because of a fault ratio. */
  #held = false;
  readonly #policy: BreakerPolicy;
  readonly #random: () => number;
  readonly #clock: () => number;
  readonly #onTransition: (from: BreakerState, to: BreakerState) => void;

  constructor(policy: BreakerPolicy, options: BreakerOptions = {}) {
    this.#policy = policy;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? Date.now;
    this.#onTransition = options.onTransition ?? (() => {});
    this.#window = new HealthWindow(policy.window_ms);
  }

  state(now = this.#clock()): BreakerState {
    if (this.#state === 'open' && now >= this.#openUntil) {
      this.#halfOpenSince = this.#openUntil;
      // The ramp is judged on its own outcomes, not on the ones that opened the breaker.
      this.#window = new HealthWindow(this.#policy.window_ms);
      this.#judgedSince = this.#halfOpenSince;
      this.#move('half_open');
    }
    if (this.#state === 'half_open' && now - this.#halfOpenSince >= this.#policy.ramp_ms) {
      // The window keeps what the ramp let through: closed goes on judging it by the same rule.
      this.#closedSince = this.#halfOpenSince + this.#policy.ramp_ms;
      this.#move('closed');
    }
    // Closed for a whole window: the next trip is a first one again (a relapse before that is not).
    if (this.#state === 'closed' && now - this.#closedSince >= this.#policy.window_ms) this.#trips = 0;
    return this.#state;
  }

  /** Until when an open breaker refuses traffic (0 when not open). */
  openUntil(now = this.#clock()): number {
    return this.state(now) === 'open' ? this.#openUntil : 0;
  }

  /** May a request go to this deployment now? Half-open lets a growing share through. */
  allow(now = this.#clock()): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open') return false;
    const share = RAMP_START + (1 - RAMP_START) * ((now - this.#halfOpenSince) / this.#policy.ramp_ms);
    return this.#random() < share;
  }

  /**
   * One attempt's outcome. `sentAt` is when the attempt left: an answer to a request sent before
   * the current ramp began (a slow timeout from the outage) says nothing about the ramp.
   */
  record(providerFault: boolean, now = this.#clock(), sentAt = now): void {
    const state = this.state(now);
    if (state === 'open' || sentAt < this.#judgedSince) return;
    this.#window.observe({ statusClass: providerFault ? '5xx' : '2xx', providerFault, latencyMs: 0, ttfbMs: null }, now);
    const { total, faults } = this.#window.counts(now);
    if (total >= this.#policy.min_requests && faults / total >= this.#policy.failure_ratio) this.#trip(now);
  }

  /** The provider said when to come back (429 Retry-After): stay away at least that long. */
  holdUntil(until: number, now = this.#clock()): void {
    if (until <= now) return;
    const open = this.state(now) === 'open';
    if (open && this.#openUntil >= until) return;
    const openForFaults = open && !this.#held;
    this.#open(until);
    this.#held = !openForFaults;
  }

  /** Open only because the provider asked for a pause. */
  heldByProvider(now = this.#clock()): boolean {
    return this.state(now) === 'open' && this.#held;
  }

  #trip(now: number): void {
    this.#trips++;
    const { open_ms, max_open_ms } = this.#policy;
    this.#open(now + Math.min(open_ms * 2 ** Math.min(this.#trips - 1, 30), Math.max(open_ms, max_open_ms)));
  }

  #open(until: number): void {
    this.#openUntil = until;
    this.#held = false;
    this.#move('open');
  }

  #move(to: BreakerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#onTransition(from, to);
  }
}
