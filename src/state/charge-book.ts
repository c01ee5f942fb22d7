/**
 * Where a charge or a grant is booked: the state store decides the balances (and, for a charge,
 * its split between allowance and wallet), then this process's ledger file records it with that
 * split. The gateway's UsageRecorder.
 *
 * memory: the store is this process's replay of its own ledger, booked synchronously.
 * redis: the store's settle script books the charge and appends it to the org's shared stream in
 * one step (the collector's source); the local file then records the same split. If Redis cannot
 * be reached at that moment, the local entry is written at once (the client is not kept waiting)
 * and the settle is retried in the background: it is idempotent per hold id, so a retry that
 * races a lost reply never charges twice.
 */
import { randomUUID } from 'node:crypto';
import type { OrgConfig } from '../config/types.ts';
import { formatCredits, parseCredits } from '../metering/credits.ts';
import type { Allowance, Split } from '../metering/ledger/accounts.ts';
import type { GrantEntry } from '../metering/ledger/entry.ts';
import { grantBody, type ChargeExtras, type GrantRequest, type Ledger } from '../metering/ledger/ledger.ts';
import type { Hold, UsageRecord, UsageRecorder } from '../metering/record.ts';
import type { Metrics } from '../metrics/registry.ts';
import type { Logger } from '../util/log.ts';
import { MemoryStateStore } from './memory-store.ts';
import type { SettleRequest, StateBalance, StateStore } from './store.ts';

const RETRY_MS = 500;

export interface ChargeBookOptions {
  store: StateStore;
  ledger: Ledger;
  /** This process's name in the shared stream and its ledger entries. */
  instance: string;
  /** The allowance the org's plan grants now (null: none). */
  allowanceOf(org: string): Allowance | null;
  log?: Logger;
  metrics?: Metrics;
}

export class ChargeBook implements UsageRecorder {
  readonly store: StateStore;
  readonly ledger: Ledger;
  readonly #allowanceOf: (org: string) => Allowance | null;
  readonly #instance: string;
  readonly #log: Logger | undefined;
  readonly #metrics: Metrics | undefined;
  /** Settles Redis has not confirmed yet, by hold id. */
  readonly #pending = new Map<string, SettleRequest>();
  #retryTimer: NodeJS.Timeout | null = null;

  constructor(options: ChargeBookOptions) {
    this.store = options.store;
    this.ledger = options.ledger;
    this.#allowanceOf = options.allowanceOf;
    this.#instance = options.instance;
    this.#log = options.log;
    this.#metrics = options.metrics;
  }

  /** Books one metered exchange; resolves once its entry is in the local ledger file. Never rejects. */
  record(record: UsageRecord, pico = parseCredits(record.credits), hold?: Hold): Promise<void> {
    const allowance = this.#allowanceOf(record.org);
    const holdId = hold?.id ?? undefined;
    const flags = this.#overHold(record, pico, hold);
    try {
      if (this.store instanceof MemoryStateStore) {
        if (hold && hold.corrections.length > 0) this.store.correct(hold.corrections, Date.now());
        return this.#write(record, pico, this.store.book(record.org, holdId, pico, allowance, record.ts), flags);
      }
    } catch (err) {
      return this.#lost(record, err);
    }
    const request: SettleRequest = { org: record.org, holdId: holdId ?? randomUUID(), pico, allowance, at: record.ts, record: JSON.stringify(record), corrections: hold?.corrections };
    const shared: ChargeExtras = { ...flags, instance: this.#instance, settle_id: request.holdId };
    return this.store.settle(request).then(
      (settled) => (settled.duplicate ? Promise.resolve() : this.#write(record, pico, settled.split, shared)),
      (err) => {
        this.#log?.warn({ err: String(err), request_id: record.request_id, org: record.org }, 'state: a charge could not be settled in the shared store; recorded locally, retrying');
        this.#defer(request);
        return this.#write(record, pico, { period: null, fromAllowance: 0n, fromWallet: pico }, { ...shared, unsettled: true });
      },
    );
  }

  /**
   * Settles again what this process recorded while the shared store was unreachable (its last
   * life included). Idempotent: a settle that did reach the store before a crash is not repeated,
   * as long as the store remembers it (state.redis.settled_ttl_s); older ones are left to
   * `tollbooth ledger reconcile`.
   */
  resumeUnsettled(rememberedMs: number, now = Date.now()): number {
    let resumed = 0;
    for (const entry of this.ledger.unsettled) {
      if (entry.settle_id === undefined || now - Date.parse(entry.ts) > rememberedMs) continue;
      const { type, seq, prev_hash, hash, period, from_allowance, from_wallet, instance, settle_id, stream_id, unsettled, over_hold, ...record } = entry;
      this.#defer({ org: entry.org, holdId: entry.settle_id, pico: parseCredits(entry.credits), allowance: this.#allowanceOf(entry.org), at: entry.ts, record: JSON.stringify(record) });
      resumed++;
    }
    if (resumed > 0) this.#log?.info({ resumed }, 'state: settling charges recorded while the shared store was unreachable');
    return resumed;
  }

  /** Usage above the hold is booked (the provider processed it) but flagged, counted and logged. */
  #overHold(record: UsageRecord, pico: bigint, hold: Hold | undefined): Pick<ChargeExtras, 'over_hold'> {
    if (!hold || hold.id === null || pico <= hold.pico) return {};
    this.#metrics?.overHoldCharges.labels(record.provider, record.model ?? 'unknown').inc();
    this.#log?.warn(
      { request_id: record.request_id, org: record.org, provider: record.provider, model: record.model, held: formatCredits(hold.pico), charged: record.credits, prompt_tokens: record.prompt_tokens, completion_tokens: record.completion_tokens },
      'metering: the provider reported usage above the request\'s hold: booked as debt and flagged (over_hold); the org is refused until its balance is positive',
    );
    return { over_hold: true };
  }

  /** Adds credits to an org's wallet once per grant id; the entry as recorded. */
  async grant(request: GrantRequest): Promise<{ entry: GrantEntry; created: boolean; acked: Promise<void> }> {
    if (this.store instanceof MemoryStateStore) return this.ledger.grant(request);
    const body = grantBody(request);
    const booked = await this.store.grant({ org: request.org, grantId: request.grantId, pico: request.pico, entry: JSON.stringify(body) });
    if (!booked.created) return { entry: JSON.parse(booked.entry) as GrantEntry, created: false, acked: Promise.resolve() };
    const appended = this.ledger.recordGrant(body);
    return { entry: appended.entry as GrantEntry, created: true, acked: appended.acked };
  }

  /** Records the config's wallet grants once (per ledger, or per shared store). */
  async applyConfigGrants(orgs: readonly Pick<OrgConfig, 'id' | 'wallet'>[]): Promise<void> {
    if (this.store instanceof MemoryStateStore) return this.ledger.applyConfigGrants(orgs);
    for (const org of orgs) {
      for (const g of org.wallet.grants) {
        const { created, acked } = await this.grant({ org: org.id, pico: parseCredits(String(g.credits)), kind: 'grant', grantId: g.id, source: 'config', by: null, note: g.note });
        if (created) this.#log?.info({ org: org.id, grant_id: g.id, credits: String(g.credits) }, 'state: config grant recorded');
        await acked;
      }
    }
  }

  balance(org: string, now = new Date()): Promise<StateBalance> {
    return this.store.balance(org, this.#allowanceOf(org), now);
  }

  flush(): Promise<void> {
    return this.ledger.flush();
  }

  async close(): Promise<void> {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#pending.size > 0) await this.#retry();
    if (this.#pending.size > 0) this.#log?.error({ pending: this.#pending.size }, 'state: charges recorded locally but never settled in the shared store (see `tollbooth ledger reconcile`)');
    await this.ledger.close();
  }

  #write(record: UsageRecord, pico: bigint, split: Split, extra?: ChargeExtras): Promise<void> {
    try {
      const appended = this.ledger.charge(record, pico, split, extra);
      return appended.written.catch((err) => this.#lost(record, err));
    } catch (err) {
      return this.#lost(record, err);
    }
  }

  #lost(record: UsageRecord, err: unknown): Promise<void> {
    this.#log?.error({ err, charge: record }, 'ledger: a charge could not be appended');
    return Promise.resolve();
  }

  #defer(request: SettleRequest): void {
    this.#pending.set(request.holdId, request);
    this.#metrics?.statePendingSettles.set(this.#pending.size);
    this.#retryTimer ??= setTimeout(() => void this.#retry(), RETRY_MS);
  }

  async #retry(): Promise<void> {
    this.#retryTimer = null;
    for (const [holdId, request] of this.#pending) {
      try {
        await this.store.settle(request);
        this.#pending.delete(holdId);
      } catch {
        break;
      }
    }
    this.#metrics?.statePendingSettles.set(this.#pending.size);
    if (this.#pending.size > 0) this.#retryTimer = setTimeout(() => void this.#retry(), RETRY_MS);
  }
}
