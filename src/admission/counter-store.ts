/**
 * Where admission keeps its counters: rate-limit buckets and credit holds. Every operation is
 * atomic on its own (all-or-nothing across the buckets of one draw; check-and-hold for credits), so
 * a shared backend (Redis with one Lua script per operation) can serve several replicas behind the
 * same interface. This in-process store is atomic because it never yields inside an operation.
 */
import { LRUCache } from 'lru-cache';
import { levelAt, msUntilFull, waitMs, type BucketRule, type BucketState } from './token-bucket.ts';

export interface Draw {
  key: string;
  cost: number;
  rule: BucketRule;
}

export type TakeResult =
  | { ok: true }
  /** `index`: the draw that must wait longest; `level`: what its bucket holds now. */
  | { ok: false; index: number; waitMs: number; level: number };

export interface HoldResult {
  ok: boolean;
  /** Everything held for the org, this request included when ok. */
  held: bigint;
}

export interface CounterStore {
  /** Takes every draw's cost, or nothing if any bucket cannot pay it now. */
  take(draws: readonly Draw[], now: number): Promise<TakeResult>;
  /** Adds `cost` (negative: gives back) without a check; a bucket may go into debt. */
  adjust(draws: readonly Draw[], now: number): Promise<void>;
  /** Holds `amount` for `org` if everything held plus `amount` stays within `spendable`. */
  hold(org: string, amount: bigint, spendable: bigint): Promise<HoldResult>;
  release(org: string, amount: bigint): Promise<void>;
  held(org: string): Promise<bigint>;
}

export class MemoryCounterStore implements CounterStore {
  readonly #buckets: LRUCache<string, BucketState>;
  readonly #holds = new Map<string, bigint>();

  /** `maxBuckets` bounds memory; an evicted bucket counts as full, which only errs towards admitting. */
  constructor(maxBuckets = 100_000) {
    this.#buckets = new LRUCache({ max: maxBuckets });
  }

  async take(draws: readonly Draw[], now: number): Promise<TakeResult> {
    const levels = draws.map((d) => levelAt(this.#buckets.get(d.key), d.rule, now));
    let worst: TakeResult = { ok: true };
    draws.forEach((d, i) => {
      const wait = waitMs(levels[i]!, d.cost, d.rule);
      if (wait > 0 && (worst.ok || wait > worst.waitMs)) worst = { ok: false, index: i, waitMs: wait, level: levels[i]! };
    });
    if (!worst.ok) return worst;
    draws.forEach((d, i) => this.#set(d, levels[i]! - d.cost, now));
    return worst;
  }

  async adjust(draws: readonly Draw[], now: number): Promise<void> {
    for (const d of draws) this.#set(d, levelAt(this.#buckets.get(d.key), d.rule, now) - d.cost, now);
  }

  async hold(org: string, amount: bigint, spendable: bigint): Promise<HoldResult> {
    const held = this.#holds.get(org) ?? 0n;
    if (held + amount > spendable) return { ok: false, held };
    this.#holds.set(org, held + amount);
    return { ok: true, held: held + amount };
  }

  async release(org: string, amount: bigint): Promise<void> {
    const left = (this.#holds.get(org) ?? 0n) - amount;
    if (left > 0n) this.#holds.set(org, left);
    else this.#holds.delete(org);
  }

  async held(org: string): Promise<bigint> {
    return this.#holds.get(org) ?? 0n;
  }

  #set(draw: Draw, level: number, now: number): void {
    const ttl = Math.ceil(msUntilFull(level, draw.rule));
    if (ttl <= 0) this.#buckets.delete(draw.key);
    else this.#buckets.set(draw.key, { level, at: now }, { ttl });
  }
}
