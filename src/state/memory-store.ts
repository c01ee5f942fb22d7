/**
 * The state store of one process (`state: memory`, the embedded default): balances are the replay of
 * this process's ledger (its Accounts), holds and rate-limit buckets live in memory. Each operation
 * runs to its end without yielding (no await before it is done), so it is atomic within the process.
 */
import type { Accounts, Allowance, Split } from '../metering/ledger/accounts.ts';
import { formatCredits } from '../metering/credits.ts';
import type { GrantEntry } from '../metering/ledger/entry.ts';
import { MemoryBuckets } from './memory-buckets.ts';
import type { Draw, GrantRequest, GrantResult, ReserveRequest, ReserveResult, SettleRequest, SettleResult, StateBalance, StateStore, TakeResult } from './store.ts';

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

  async take(draws: readonly Draw[], now: number): Promise<TakeResult> {
    return this.#buckets.take(draws, now);
  }

  async adjust(draws: readonly Draw[], now: number): Promise<void> {
    this.#buckets.adjust(draws, now);
  }

  async reserve(r: ReserveRequest): Promise<ReserveResult> {
    const holds = this.#orgHolds(r.org);
    const available = this.#accounts.balance(r.org, r.allowance, r.now).spendable - holds.total;
    if (holds.byId.has(r.holdId)) return { ok: true, available };
    if (r.amount > available) return { ok: false, available };
    holds.byId.set(r.holdId, r.amount);
    holds.total += r.amount;
    return { ok: true, available };
  }

  async settle(r: SettleRequest): Promise<SettleResult> {
    return { split: this.book(r.org, r.holdId, r.pico, r.allowance, r.at), duplicate: false };
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
