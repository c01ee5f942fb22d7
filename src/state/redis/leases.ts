/**
 * Credit leases: a replica takes a slice of an org's spendable credits from Redis in one script
 * (a hold named `lease:<instance>`), admits requests against it with no round trip, and books their
 * charges in batches (one script for every charge of an org settled in the same tick). The lease
 * shrinks by what is charged, grows again when it runs low, and what is left is given back once
 * the org goes quiet. A crashed replica's lease frees itself by TTL.
 *
 * The overspend bound stays 0: every lease is held against the org's balance like any hold, so the
 * sum of leases and holds never exceeds what the org can spend; a replica admits only what fits in
 * its own lease. A lease is used for admission only while it is surely still held in Redis: until
 * `holdTtlMs` after it last grew (its TTL there is twice that, renewed by every batch), so any request
 * admitted against it settles before Redis could let it go.
 * When an org has little left, a lease cannot hold a request's worst case and admission falls back
 * to a hold per request. Leases serve requests without rate-limit draws (RPM/TPM are per request).
 */
import type { Allowance, Split } from '../../metering/ledger/accounts.ts';
import { periodKey } from '../../metering/ledger/accounts.ts';
import type { ReserveRequest, SettleRequest, SettleResult } from '../store.ts';
import { fromPair, toPair } from './amount.ts';
import type { StateKeys } from './keys.ts';
import type { ScriptName } from './scripts.ts';

export interface LeaseOptions {
  /** A lease asks for this many times the request's hold when it grows. */
  holdsPerLease: bigint;
  /** ...but never more than 1/share of what the org has available. */
  share: number;
  /** A lease unused this long is given back. */
  idleMs: number;
  holdTtlMs: number;
  settledTtlSeconds: number;
  instanceId: string;
}

type Run = (name: ScriptName, keys: string[], args: string[]) => Promise<unknown>;

interface Lease {
  /** What the lease holds in Redis, as far as this replica knows. */
  pico: bigint;
  /** Held by requests admitted against it and not settled yet. */
  inFlight: bigint;
  /** Admission against it stops at this time (ms) unless it grows again. */
  validUntil: number;
  lastUsed: number;
  /** A grow in progress: concurrent admissions wait for it instead of asking again. */
  growing: Promise<void> | null;
  allowance: Allowance | null;
}

interface Pending {
  request: SettleRequest;
  resolve(result: SettleResult): void;
  reject(err: unknown): void;
}

export class LeaseBook {
  readonly #run: Run;
  readonly #keys: StateKeys;
  readonly #options: LeaseOptions;
  readonly #leases = new Map<string, Lease>();
  /** Hold id → the org and amount admitted against its lease. */
  readonly #admitted = new Map<string, { org: string; pico: bigint }>();
  readonly #batches = new Map<string, Pending[]>();
  #flushing = false;
  readonly #idleTimer: NodeJS.Timeout;

  readonly #reachable: () => boolean;

  constructor(run: Run, keys: StateKeys, options: LeaseOptions, reachable: () => boolean = () => true) {
    this.#run = run;
    this.#reachable = reachable;
    this.#keys = keys;
    this.#options = options;
    this.#idleTimer = setInterval(() => void this.#returnIdle(), Math.max(100, options.idleMs / 2));
    this.#idleTimer.unref();
  }

  #leaseId(): string {
    return `lease:${this.#options.instanceId}`;
  }

  /** Admits the hold against the org's lease (growing it if needed); false: hold it per request. */
  async admit(hold: ReserveRequest): Promise<boolean> {
    const now = Date.now();
    let lease = this.#leases.get(hold.org);
    if (!lease) this.#leases.set(hold.org, (lease = { pico: 0n, inFlight: 0n, validUntil: 0, lastUsed: now, growing: null, allowance: hold.allowance }));
    lease.allowance = hold.allowance;
    if (!this.#fits(lease, hold.amount, now)) {
      if (!this.#reachable()) return false;
      lease.growing ??= this.#grow(hold.org, lease, hold.amount).finally(() => (lease!.growing = null));
      await lease.growing;
      if (!this.#fits(lease, hold.amount, Date.now())) {
        // The org is running low: give back what this lease does not need, and hold per request.
        if (lease.pico > lease.inFlight) await this.#shrink(hold.org, lease.inFlight).catch(() => {});
        lease.validUntil = 0;
        return false;
      }
    }
    lease.inFlight += hold.amount;
    lease.lastUsed = now;
    this.#admitted.set(hold.holdId, { org: hold.org, pico: hold.amount });
    return true;
  }

  /** Whether the hold id was admitted against a lease (its settle goes through settle() here). */
  has(holdId: string): boolean {
    return this.#admitted.has(holdId);
  }

  /** Queues the charge for this tick's batch of its org. */
  settle(request: SettleRequest): Promise<SettleResult> {
    return new Promise((resolve, reject) => {
      let batch = this.#batches.get(request.org);
      if (!batch) this.#batches.set(request.org, (batch = []));
      batch.push({ request, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  /** No upstream was reached: the request's part of the lease is free again (locally: no round trip). */
  release(holdId: string): void {
    const admitted = this.#admitted.get(holdId);
    if (!admitted) return;
    this.#admitted.delete(holdId);
    const lease = this.#leases.get(admitted.org);
    if (lease) lease.inFlight -= admitted.pico;
  }

  /** Gives every lease back (a clean stop). */
  async close(): Promise<void> {
    clearInterval(this.#idleTimer);
    await this.#flush();
    await Promise.all([...this.#leases.keys()].map((org) => this.#shrink(org, 0n).catch(() => {})));
  }

  #fits(lease: Lease, amount: bigint, now: number): boolean {
    return now < lease.validUntil && lease.pico - lease.inFlight >= amount;
  }

  async #grow(org: string, lease: Lease, amount: bigint): Promise<void> {
    const want = toPair(amount * this.#options.holdsPerLease);
    const out = (await this.#run('lease', this.#leaseKeys(org), [
      this.#leaseId(),
      'grow',
      want.w,
      want.r,
      ...allowanceArgs(lease.allowance, new Date().toISOString()),
      String(this.#options.holdTtlMs * 2),
      String(this.#options.share),
    ])) as [string, string];
    lease.pico = fromPair(out[0], out[1]);
    lease.validUntil = Date.now() + this.#options.holdTtlMs;
  }

  async #shrink(org: string, to: bigint): Promise<void> {
    const lease = this.#leases.get(org);
    const pair = toPair(to);
    const out = (await this.#run('lease', this.#leaseKeys(org), [
      this.#leaseId(),
      'shrink',
      pair.w,
      pair.r,
      ...allowanceArgs(lease?.allowance ?? null, new Date().toISOString()),
      String(this.#options.holdTtlMs * 2),
      String(this.#options.share),
    ])) as [string, string];
    if (lease) lease.pico = fromPair(out[0], out[1]);
  }

  /** Leases nobody used for a while go back to the org: other replicas may need them. */
  async #returnIdle(): Promise<void> {
    const now = Date.now();
    for (const [org, lease] of this.#leases) {
      if (lease.growing || now - lease.lastUsed < this.#options.idleMs || lease.pico <= lease.inFlight) continue;
      // No admission against it from here on: what it gives back must not be promised meanwhile.
      lease.validUntil = 0;
      try {
        await this.#shrink(org, lease.inFlight);
        if (lease.inFlight === 0n && lease.growing === null && this.#leases.get(org) === lease) this.#leases.delete(org);
      } catch {
        // Unreachable: it stays held until its TTL; the next round tries again.
      }
    }
  }

  async #flush(): Promise<void> {
    const batches = [...this.#batches];
    this.#batches.clear();
    this.#flushing = false;
    await Promise.all(batches.map(([org, pending]) => this.#settleBatch(org, pending)));
  }

  async #settleBatch(org: string, pending: Pending[]): Promise<void> {
    const k = this.#keys;
    const lease = this.#leases.get(org);
    const allowance = pending[0]!.request.allowance;
    const limit = toPair(allowance?.pico ?? 0n);
    const args = [this.#leaseId(), allowance ? '1' : '0', limit.w, limit.r, String(this.#options.settledTtlSeconds), this.#options.instanceId, String(this.#options.holdTtlMs * 2)];
    for (const { request } of pending) {
      const pico = toPair(request.pico);
      args.push(request.holdId, pico.w, pico.r, request.allowance ? periodKey(request.allowance.period, request.at) : '-', request.record);
    }
    let out: Array<[number, string] | [string, string]>;
    try {
      out = (await this.#run('settleLeased', [k.account(org), k.allowance(org), k.holds(org), k.holdExpiry(org), k.stream(org), ...pending.map(({ request }) => k.settled(org, request.holdId))], args)) as typeof out;
    } catch (err) {
      for (const p of pending) p.reject(err);
      return;
    }
    pending.forEach(({ request, resolve }, i) => {
      const [duplicate, split] = out[i] as [number, string];
      this.release(request.holdId);
      resolve({ split: parseSplit(split), duplicate: duplicate === 1 });
    });
    const [w, r] = out.at(-1) as [string, string];
    if (lease) lease.pico = fromPair(w, r);
  }

  #leaseKeys(org: string): string[] {
    const k = this.#keys;
    return [k.account(org), k.allowance(org), k.holds(org), k.holdExpiry(org)];
  }
}

export function allowanceArgs(allowance: Allowance | null, at: string): [string, string, string, string] {
  if (allowance === null) return ['0', '0', '0', '-'];
  const pair = toPair(allowance.pico);
  return ['1', pair.w, pair.r, periodKey(allowance.period, at)];
}

export function parseSplit(text: string): Split {
  const [period, aw, ar, ww, wr] = text.split(' ') as [string, string, string, string, string];
  return { period: period === '-' ? null : period, fromAllowance: fromPair(aw, ar), fromWallet: fromPair(ww, wr) };
}
