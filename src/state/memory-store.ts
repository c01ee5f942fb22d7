/**
 * The state store of one process (`state: memory`, the embedded default): balances are the replay of
 * this process's ledger (its Accounts), holds and rate-limit buckets live in memory. Each operation
 * runs to its end without yielding (no await before it is done), so it is atomic within the process.
 */
import type { Accounts, Allowance, Split } from '../metering/ledger/accounts.ts';
import { formatCredits } from '../metering/credits.ts';
import type { GrantEntry } from '../metering/ledger/entry.ts';
import { MemoryBuckets } from './memory-buckets.ts';
import type { AdmitRequest, AdmitResult, Draw, GrantRequest, GrantResult, SettleRequest, SettleResult, StateBalance, StateStore } from './store.ts';

interface OrgHolds {
  total: bigint;
  byId: Map<string, bigint>;
}

export class MemoryStateStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly #accounts: Accounts;
  readonly #buckets: MemoryBuckets;
  readonly #holds = new Map<string, OrgHolds>();

  constructor(accounts: Accounts, maxBuckets = 100_000) {
    this.#accounts = accounts;
    this.#buckets = new MemoryBuckets(maxBuckets);
  }

  async adjust(draws: readonly Draw[], now: number): Promise<void> {
    this.#buckets.adjust(draws, now);
  }

  async admit(r: AdmitRequest): Promise<AdmitResult> {
    return this.admitNow(r);
  }

  /** admit() without the promise. */
  admitNow({ draws, hold, now }: AdmitRequest): AdmitResult {
    const taken = this.#buckets.check(draws, now);
    if (!taken.ok) return { ok: false, refused: 'rate', index: taken.index, waitMs: taken.waitMs, level: taken.level };
    if (hold !== null && hold.amount > 0n) {
      const holds = this.#orgHolds(hold.org);
      if (!holds.byId.has(hold.holdId)) {
        const available = this.#accounts.balance(hold.org, hold.allowance, hold.now).spendable - holds.total;
        if (hold.amount > available) return { ok: false, refused: 'credits', available };
        holds.byId.set(hold.holdId, hold.amount);
        holds.total += hold.amount;
      }
    }
    this.#buckets.apply(draws, taken.levels, now);
    return { ok: true };
  }

  async settle(r: SettleRequest): Promise<SettleResult> {
    if (r.corrections) this.#buckets.adjust(r.corrections, Date.now());
    return { split: this.book(r.org, r.holdId, r.pico, r.allowance, r.at), duplicate: false };
  }

  /** The buckets' own clock: corrections of a settle booked synchronously. */
  correct(draws: readonly Draw[], now: number): void {
    this.#buckets.adjust(draws, now);
  }

  /** settle() without the promise: the hot path of a single process books synchronously. */
  book(org: string, holdId: string | undefined, pico: bigint, allowance: Allowance | null, at: string): Split {
    if (holdId !== undefined) this.#drop(org, holdId);
    const split = this.#accounts.split(org, pico, allowance, at);
    this.#accounts.applyCharge(org, split.period, pico, split.fromAllowance, split.fromWallet);
    return split;
  }

  async release(org: string, holdId: string): Promise<void> {
    this.#drop(org, holdId);
  }

  /** Books a grant in the balances (the gateway's ledger records it: see ChargeBook.grant). */
  async grant(request: GrantRequest): Promise<GrantResult> {
    if (this.#accounts.hasGrant(request.org, request.grantId)) return { created: false, entry: request.entry };
    this.#accounts.apply({ type: 'grant', org: request.org, grant_id: request.grantId, credits: formatCredits(request.pico) } as GrantEntry);
    return { created: true, entry: request.entry };
  }

  async balance(org: string, allowance: Allowance | null, now: Date): Promise<StateBalance> {
    return { ...this.#accounts.balance(org, allowance, now), held: this.#holds.get(org)?.total ?? 0n };
  }

  async close(): Promise<void> {}

  #orgHolds(org: string): OrgHolds {
    let holds = this.#holds.get(org);
    if (!holds) this.#holds.set(org, (holds = { total: 0n, byId: new Map() }));
    return holds;
  }

  #drop(org: string, holdId: string): void {
    const holds = this.#holds.get(org);
    const amount = holds?.byId.get(holdId);
    if (!holds || amount === undefined) return;
    holds.byId.delete(holdId);
    holds.total -= amount;
    if (holds.byId.size === 0) this.#holds.delete(org);
  }
}
