/**
 * RPM/TPM buckets of one process: the memory store's, and the per-process limits BYOK calls keep
 * while the shared store is unreachable. Atomic because no operation yields before it is done.
 */
import { LRUCache } from 'lru-cache';
import { levelAt, msUntilFull, waitMs, type BucketState } from '../admission/token-bucket.ts';
import type { Draw, TakeResult } from './store.ts';

export class MemoryBuckets {
  readonly #buckets: LRUCache<string, BucketState>;

  /** `max` bounds memory; an evicted bucket counts as full, which only errs towards admitting. */
  constructor(max = 100_000) {
    this.#buckets = new LRUCache({ max });
  }

  take(draws: readonly Draw[], now: number): TakeResult {
    const checked = this.check(draws, now);
    if (!checked.ok) return checked;
    this.apply(draws, checked.levels, now);
    return { ok: true };
  }

  /** Whether every draw can be paid now, without taking anything. */
  check(draws: readonly Draw[], now: number): { ok: true; levels: number[] } | { ok: false; index: number; waitMs: number; level: number } {
    const levels = draws.map((d) => levelAt(this.#buckets.get(d.key), d.rule, now));
    let worst: { index: number; waitMs: number } | null = null;
    draws.forEach((d, i) => {
      const wait = waitMs(levels[i]!, d.cost, d.rule);
      if (wait > 0 && (worst === null || wait > worst.waitMs)) worst = { index: i, waitMs: wait };
    });
    if (worst === null) return { ok: true, levels };
    const { index, waitMs: wait } = worst;
    return { ok: false, index, waitMs: wait, level: levels[index]! };
  }

  /** Takes each draw's cost from the levels `check` found. */
  apply(draws: readonly Draw[], levels: readonly number[], now: number): void {
    draws.forEach((d, i) => this.#set(d, levels[i]! - d.cost, now));
  }

  adjust(draws: readonly Draw[], now: number): void {
    for (const d of draws) this.#set(d, levelAt(this.#buckets.get(d.key), d.rule, now) - d.cost, now);
  }

  #set(draw: Draw, level: number, now: number): void {
    const ttl = Math.ceil(msUntilFull(level, draw.rule));
    if (ttl <= 0) this.#buckets.delete(draw.key);
    else this.#buckets.set(draw.key, { level, at: now }, { ttl });
  }
}
