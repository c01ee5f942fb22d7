/**
 * The collector (`tollbooth ledger collect`): writes every replica's charges and grants, read from
 * each org's shared stream, into one consolidated hash-chained ledger on a persistent volume.
 *
 * Exactly once per stream entry: entries are read through a consumer group, appended with their
 * stream id, acknowledged in Redis only after the batch is fsynced, and trimmed only once
 * acknowledged. After a crash the unacknowledged ones are delivered again; those whose stream id is
 * not above the last one the ledger holds for that org are already in it and are only acknowledged.
 * One collector at a time: it holds a lease key in Redis (and the ledger directory's lock).
 */
import { randomUUID } from 'node:crypto';
import { parseCredits } from '../metering/credits.ts';
import type { GrantEntry } from '../metering/ledger/entry.ts';
import type { Ledger } from '../metering/ledger/ledger.ts';
import type { UsageRecord } from '../metering/record.ts';
import type { Logger } from '../util/log.ts';
import { fromPair } from './redis/amount.ts';
import type { RedisStateStore } from './redis/redis-store.ts';

export const COLLECTOR_GROUP = 'tollbooth-collector';
const CONSUMER = 'collector';

export interface CollectorOptions {
  store: RedisStateStore;
  ledger: Ledger;
  log?: Logger;
  /** Stream entries read per org per round. */
  batch?: number;
  leaseMs?: number;
  /** Who holds the lease: the same collector restarted (same ledger directory) takes it back at once. */
  leaseHolder?: string;
}

type StreamMessage = [id: string, fields: string[]];

export class Collector {
  readonly #store: RedisStateStore;
  readonly #ledger: Ledger;
  readonly #log: Logger | undefined;
  readonly #batch: number;
  readonly #leaseMs: number;
  readonly #leaseId: string;
  readonly #groups = new Set<string>();

  constructor(options: CollectorOptions) {
    this.#store = options.store;
    this.#ledger = options.ledger;
    this.#log = options.log;
    this.#batch = options.batch ?? 1000;
    this.#leaseMs = options.leaseMs ?? 15_000;
    this.#leaseId = options.leaseHolder ?? randomUUID();
  }

  /** Takes or renews the collector lease; false while another collector holds it. */
  async lease(): Promise<boolean> {
    const key = `${this.#store.keys.orgs()}:collector`;
    const client = this.#store.client;
    const held = await client.eval(
      "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end return 0",
      1,
      key,
      this.#leaseId,
      String(this.#leaseMs),
    );
    return held === 1;
  }

  /** Collects what every org's stream holds now; the number of entries written. */
  async collectOnce(): Promise<number> {
    if (!(await this.lease())) throw new Error('another collector holds the lease; one collector writes the consolidated ledger');
    let written = 0;
    const orgs = await this.#store.client.smembers(this.#store.keys.orgs());
    for (const org of orgs.sort()) {
      // Our own unacknowledged entries first (a crash between fsync and XACK), then new ones.
      for (const from of ['0', '>']) {
        for (;;) {
          const messages = await this.#read(org, from);
          if (messages.length === 0) break;
          written += await this.#write(org, messages);
          if (from === '0' || messages.length < this.#batch) break;
        }
      }
    }
    return written;
  }

  /** Collects until `signal` aborts, pausing `idleMs` when a round found nothing. */
  async run(signal: AbortSignal, idleMs = 250): Promise<void> {
    while (!signal.aborted) {
      let written = 0;
      try {
        written = await this.collectOnce();
      } catch (err) {
        this.#log?.warn({ err: String(err) }, 'collector: a round failed; retrying');
      }
      if (written === 0 && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, idleMs).unref());
    }
  }

  async #read(org: string, from: string): Promise<StreamMessage[]> {
    const key = this.#store.keys.stream(org);
    const client = this.#store.client;
    if (!this.#groups.has(key)) {
      try {
        await client.xgroup('CREATE', key, COLLECTOR_GROUP, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      }
      this.#groups.add(key);
    }
    const reply = (await client.xreadgroup('GROUP', COLLECTOR_GROUP, CONSUMER, 'COUNT', this.#batch, 'STREAMS', key, from)) as Array<[string, StreamMessage[]]> | null;
    return (reply?.[0]?.[1] ?? []).filter(([, fields]) => fields !== null);
  }

  async #write(org: string, messages: StreamMessage[]): Promise<number> {
    const last = this.#ledger.lastStreamIds.get(org);
    let written = 0;
    let acked: Promise<void> = Promise.resolve();
    for (const [id, list] of messages) {
      if (last !== undefined && compareStreamIds(id, last) <= 0) continue;
      const fields = toFields(list);
      const record = JSON.parse(fields.record!) as Record<string, unknown>;
      if (fields.type === 'grant') {
        acked = this.#ledger.recordGrant({ ...(record as unknown as GrantEntry), instance: fields.instance, stream_id: id }).acked;
      } else {
        const [period, aw, ar, ww, wr] = fields.split!.split(' ') as [string, string, string, string, string];
        const split = { period: period === '-' ? null : period, fromAllowance: fromPair(aw, ar), fromWallet: fromPair(ww, wr) };
        const charge = record as unknown as UsageRecord;
        acked = this.#ledger.charge(charge, parseCredits(charge.credits), split, { instance: fields.instance, settle_id: fields.id, stream_id: id }).acked;
      }
      this.#ledger.lastStreamIds.set(org, id);
      written++;
    }
    await acked;
    const key = this.#store.keys.stream(org);
    const ids = messages.map(([id]) => id);
    await this.#store.client.xack(key, COLLECTOR_GROUP, ...ids);
    // Everything before the newest acknowledged entry is in the ledger, on disk.
    await this.#store.client.xtrim(key, 'MINID', ids.at(-1)!);
    return written;
  }
}

function toFields(list: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]!] = list[i + 1]!;
  return fields;
}

/** Stream ids ("<ms>-<seq>") in order. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}
