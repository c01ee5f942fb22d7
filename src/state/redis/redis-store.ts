/**
 * The shared state store on Redis ≥ 7 or Valkey (`state: redis`): every operation is one script
 * (scripts.ts), so any number of replicas agree on holds, balances and rate limits.
 *
 * Commands fail fast while the connection is down (no offline queue): the caller decides what an
 * outage means (state.on_unavailable). ioredis reconnects by itself; availability follows it.
 */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Allowance } from '../../metering/ledger/accounts.ts';
import { periodKey } from '../../metering/ledger/accounts.ts';
import type { AdmitRequest, AdmitResult, Draw, GrantRequest, GrantResult, SettleRequest, SettleResult, StateBalance, StateStore } from '../store.ts';
import { StateUnavailableError } from '../store.ts';
import { fromPair, toPair } from './amount.ts';
import { StateKeys } from './keys.ts';
import { SCRIPTS, type ScriptName } from './scripts.ts';
import { allowanceArgs, LeaseBook, parseSplit } from './leases.ts';

export interface RedisStoreOptions {
  url: string;
  username?: string;
  password?: string;
  tls?: boolean;
  keyPrefix: string;
  /** Names this process in the charge stream. */
  instanceId: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** How long a settled hold id is remembered (a replayed settle within it is a no-op). */
  settledTtlSeconds: number;
  onAvailability?(available: boolean): void;
  /** Each round trip to Redis, by operation (a metric). */
  onCall?(operation: string): void;
  /** What admission does while Redis is unreachable (see state.on_unavailable). */
  onUnavailable?: 'deny' | 'local';
  /** Credit leases (see leases.ts); absent: a hold per request. */
  leases?: { holdsPerLease: number; share: number; idleMs: number; holdTtlMs: number };
}

const SHAS = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, s]) => [name, createHash('sha1').update(s.lua).digest('hex')]),
) as Record<ScriptName, string>;

export class RedisStateStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly keys: StateKeys;
  readonly client: Redis;
  readonly #options: RedisStoreOptions;
  readonly #knownOrgs = new Set<string>();
  #available = false;
  readonly #leases: LeaseBook | null;
  readonly #whenAvailable: Array<() => void> = [];

  constructor(options: RedisStoreOptions) {
    this.#options = options;
    this.keys = new StateKeys(options.keyPrefix);
    const redisOptions: RedisOptions = {
      username: options.username,
      password: options.password,
      tls: options.tls ? {} : undefined,
      enableOfflineQueue: false,
      // Commands issued in one tick leave in one write: under load, one syscall for many requests.
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 1000),
      lazyConnect: true,
    };
    this.client = new Redis(options.url, redisOptions);
    const leases = options.leases;
    this.#leases = leases
      ? new LeaseBook((name, keys, args) => this.#run(name, keys, args), this.keys, {
          holdsPerLease: BigInt(leases.holdsPerLease),
          share: leases.share,
          idleMs: leases.idleMs,
          holdTtlMs: leases.holdTtlMs,
          settledTtlSeconds: options.settledTtlSeconds,
          instanceId: options.instanceId,
        }, () => this.#available)
      : null;
    this.client.on('ready', () => this.#setAvailable(true));
    this.client.on('close', () => this.#setAvailable(false));
    // Connection errors are reported through availability (and each failed command): never thrown.
    this.client.on('error', () => {});
  }

  /** Connects and checks the server (Redis ≥ 7: scripts rely on its semantics). */
  async connect(): Promise<void> {
    await this.client.connect();
    const info = await this.client.info('server');
    const version = /redis_version:(\d+)/.exec(info)?.[1] ?? /valkey_version:(\d+)/.exec(info)?.[1];
    if (version !== undefined && Number(version) < 7) throw new Error(`state: Redis ${version} is too old: Redis ≥ 7 or Valkey is needed`);
  }

  /** Calls `fn` each time the connection is (re)established. */
  onAvailable(fn: () => void): void {
    this.#whenAvailable.push(fn);
  }

  async adjust(draws: readonly Draw[], _now: number): Promise<void> {
    if (draws.length === 0) return;
    await this.#run('adjust', this.#bucketKeys(draws), bucketArgs(draws));
  }

  async admit({ draws, hold }: AdmitRequest): Promise<AdmitResult> {
    const org = hold?.org ?? draws[0]?.org;
    if (org === undefined) return { ok: true };
    // Without rate-limit draws, a lease admits with no round trip (most of the time).
    // While Redis is unreachable a lease admits only under `on_unavailable: local` (its credits are
    // held for this replica, so the overspend bound holds); `deny` refuses below, like any managed call.
    const leaseUsable = this.#leases !== null && (this.#available || this.#options.onUnavailable === 'local');
    if (leaseUsable && draws.length === 0 && hold !== null && hold.amount > 0n && (await this.#leases!.admit(hold))) return { ok: true };
    const k = this.keys;
    const amount = toPair(hold?.amount ?? 0n);
    const out = (await this.#run(
      'admit',
      [k.account(org), k.allowance(org), k.holds(org), k.holdExpiry(org), ...this.#bucketKeys(draws)],
      [hold?.holdId ?? '-', amount.w, amount.r, ...allowanceArgs(hold?.allowance ?? null, (hold?.now ?? new Date()).toISOString()), String(hold?.ttlMs ?? 0), ...bucketArgs(draws)],
    )) as [number, string | number, string, string?];
    if (out[0] === 1) return { ok: true };
    if (out[0] === 0) return { ok: false, refused: 'credits', available: fromPair(out[1], out[2]) };
    return { ok: false, refused: 'rate', index: Number(out[1]), waitMs: Number(out[2]), level: Number(out[3]) };
  }

  async settle(r: SettleRequest): Promise<SettleResult> {
    this.#noteOrg(r.org);
    if (this.#leases?.has(r.holdId)) return this.#leases.settle(r);
    const k = this.keys;
    const pico = toPair(r.pico);
    const out = (await this.#run(
      'settle',
      [k.account(r.org), k.allowance(r.org), k.holds(r.org), k.holdExpiry(r.org), k.settled(r.org, r.holdId), k.stream(r.org), ...this.#bucketKeys(r.corrections ?? [])],
      [r.holdId, pico.w, pico.r, ...allowanceArgs(r.allowance, r.at), String(this.#options.settledTtlSeconds), r.record, this.#options.instanceId, ...bucketArgs(r.corrections ?? [])],
    )) as [number, string];
    return { split: parseSplit(out[1]), duplicate: out[0] === 1 };
  }

  async release(org: string, holdId: string): Promise<void> {
    if (this.#leases?.has(holdId)) return this.#leases.release(holdId);
    const k = this.keys;
    await this.#run('release', [k.account(org), k.holds(org), k.holdExpiry(org)], [holdId]);
  }

  async grant(request: GrantRequest): Promise<GrantResult> {
    const k = this.keys;
    this.#noteOrg(request.org);
    const amount = toPair(request.pico);
    const out = (await this.#run(
      'grant',
      [k.account(request.org), k.grants(request.org), k.stream(request.org)],
      [request.grantId, amount.w, amount.r, request.entry, this.#options.instanceId],
    )) as [number, string];
    return { created: out[0] === 1, entry: out[1] };
  }

  async balance(org: string, allowance: Allowance | null, now: Date): Promise<StateBalance> {
    const k = this.keys;
    const args = allowanceArgs(allowance, now.toISOString());
    const out = (await this.#run('balance', [k.account(org), k.allowance(org), k.holds(org), k.holdExpiry(org)], [args[0], args[1], args[2], args[3]])) as string[];
    const [wallet, granted, charged, held, used] = [0, 2, 4, 6, 8].map((i) => fromPair(out[i]!, out[i + 1]!)) as [bigint, bigint, bigint, bigint, bigint];
    const allowancePico = allowance?.pico ?? 0n;
    const remaining = allowancePico > used ? allowancePico - used : 0n;
    return {
      period: allowance ? periodKey(allowance.period, now) : null,
      allowance: allowancePico,
      allowanceUsed: used,
      allowanceRemaining: remaining,
      wallet,
      granted,
      charged,
      spendable: remaining + wallet,
      held,
    };
  }

  async close(): Promise<void> {
    await this.#leases?.close();
    this.client.disconnect();
  }

  #bucketKeys(draws: readonly Draw[]): string[] {
    return draws.map((d) => this.keys.bucket(d.org, d.key));
  }

  /** Lists the org for the collector; sent ahead of the script on the same connection, not awaited. */
  #noteOrg(org: string): void {
    if (this.#knownOrgs.has(org)) return;
    this.#knownOrgs.add(org);
    this.client.sadd(this.keys.orgs(), org).catch(() => this.#knownOrgs.delete(org));
  }

  /** One script by SHA; loaded again when the server lost it (a restart, SCRIPT FLUSH). */
  async #run(name: ScriptName, keys: string[], args: string[]): Promise<unknown> {
    this.#options.onCall?.(name);
    return this.#call(async () => {
      try {
        return await this.client.evalsha(SHAS[name], keys.length, ...keys, ...args);
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
        return await this.client.eval(SCRIPTS[name].lua, keys.length, ...keys, ...args);
      }
    });
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // A script error is a bug, not an outage: only connection trouble becomes "unavailable".
      if (err instanceof Error && /^(ERR|WRONGTYPE|NOSCRIPT)/.test(err.message)) throw err;
      throw new StateUnavailableError(err);
    }
  }

  #setAvailable(available: boolean): void {
    if (this.#available === available) return;
    this.#available = available;
    this.#options.onAvailability?.(available);
    if (available) for (const fn of this.#whenAvailable) fn();
  }
}

function bucketArgs(draws: readonly Draw[]): string[] {
  return draws.flatMap((d) => [String(d.rule.capacity), String(d.rule.perSecond), String(d.cost)]);
}
