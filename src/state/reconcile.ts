/**
 * `tollbooth ledger reconcile`: the consolidated ledger (plus what the streams hold that the
 * collector has not written yet) replayed, and compared with the balances in Redis: wallet,
 * granted, charged, allowance used per period, grant ids. `--repair` sets Redis' balances to the
 * replay, e.g. after Redis lost data (a restart without persistence). Holds in flight are left as
 * they are; run a repair while no managed traffic settles (the replay and the write are not one
 * step).
 */
import { loadLedger } from '../metering/ledger/checkpoint.ts';
import { walkHistory } from '../metering/ledger/history.ts';
import type { GrantEntry, LedgerEntry } from '../metering/ledger/entry.ts';
import { formatCredits } from '../metering/credits.ts';
import { fromPair, toPair } from './redis/amount.ts';
import type { RedisStateStore } from './redis/redis-store.ts';
import { compareStreamIds } from './collector.ts';

export interface Difference {
  org: string;
  /** wallet, granted, charged, allowance:<period>, grant:<id> */
  what: string;
  ledger: string;
  redis: string;
}

export interface Reconciliation {
  orgs: number;
  /** Stream entries not collected yet, included in the replay. */
  uncollected: number;
  differences: Difference[];
  repaired: boolean;
}

export async function reconcile(store: RedisStateStore, dir: string, repair: boolean): Promise<Reconciliation> {
  // From the ledger's last checkpoint and the entries after it, read as a stream (as a start does).
  const { replay, walk } = loadLedger(dir);
  if (walk.problems.length > 0) throw new Error(`the ledger in ${dir} fails verification: run \`tollbooth ledger verify --dir ${dir}\` first`);
  const accounts = replay.accounts;
  const lastIds = replay.streamIds;
  // Checkpoints hold grant ids only: the bodies a repair writes back are read from the whole
  // history (archived files included where readable), as a stream.
  const grants = new Map<string, Map<string, string>>();
  const noteGrant = (entry: GrantEntry) => {
    const { seq, prev_hash, hash, instance, stream_id, ...body } = entry;
    let byId = grants.get(entry.org);
    if (!byId) grants.set(entry.org, (byId = new Map()));
    // The first entry for an id is the one applied (a repeat in a consolidated ledger is not).
    if (!byId.has(entry.grant_id)) byId.set(entry.grant_id, JSON.stringify(body));
  };
  if (repair) {
    await walkHistory(dir, (entry) => {
      if (entry.type === 'grant') noteGrant(entry);
    });
  }

  const client = store.client;
  const keys = store.keys;
  const orgs = new Set([...(await client.smembers(keys.orgs())), ...accounts.orgs()]);
  let uncollected = 0;
  for (const org of orgs) {
    const last = lastIds.get(org);
    const pending = await client.xrange(keys.stream(org), last === undefined ? '-' : `(${last}`, '+');
    for (const [id, list] of pending) {
      if (last !== undefined && compareStreamIds(id, last) <= 0) continue;
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]!] = list[i + 1]!;
      const record = JSON.parse(fields.record!) as Record<string, unknown>;
      if (fields.type === 'grant') {
        const grant = record as unknown as GrantEntry;
        accounts.apply(grant);
        noteGrant(grant);
      } else {
        const [period, aw, ar, ww, wr] = fields.split!.split(' ') as [string, string, string, string, string];
        accounts.apply({
          ...record,
          type: 'charge',
          period: period === '-' ? null : period,
          from_allowance: formatCredits(fromPair(aw, ar)),
          from_wallet: formatCredits(fromPair(ww, wr)),
        } as LedgerEntry);
      }
      uncollected++;
    }
  }

  const differences: Difference[] = [];
  for (const org of [...orgs].sort()) {
    const want = accounts.snapshot(org);
    const acct = await client.hgetall(keys.account(org));
    const pair = (h: Record<string, string>, f: string) => fromPair(h[`${f}_w`] ?? '0', h[`${f}_r`] ?? '0');
    const compare = (what: string, ledger: bigint, redis: bigint) => {
      if (ledger !== redis) differences.push({ org, what, ledger: formatCredits(ledger), redis: formatCredits(redis) });
    };
    compare('wallet', want.wallet, pair(acct, 'wallet'));
    compare('granted', want.granted, pair(acct, 'granted'));
    compare('charged', want.charged, pair(acct, 'charged'));
    const allow = await client.hgetall(keys.allowance(org));
    const periods = new Set([...want.allowanceUsed.keys(), ...Object.keys(allow).map((f) => f.replace(/_[wr]$/, ''))]);
    for (const period of [...periods].sort()) compare(`allowance:${period}`, want.allowanceUsed.get(period) ?? 0n, pair(allow, period));
    const redisGrants = new Set(await client.hkeys(keys.grants(org)));
    for (const id of want.grantIds) if (!redisGrants.has(id)) differences.push({ org, what: `grant:${id}`, ledger: 'recorded', redis: 'missing' });
    for (const id of redisGrants) if (!want.grantIds.has(id)) differences.push({ org, what: `grant:${id}`, ledger: 'missing', redis: 'recorded' });

    if (repair) {
      const fields: string[] = [];
      for (const [name, value] of [['wallet', want.wallet], ['granted', want.granted], ['charged', want.charged]] as const) {
        const p = toPair(value);
        fields.push(`${name}_w`, p.w, `${name}_r`, p.r);
      }
      const multi = client.multi().hset(keys.account(org), ...fields).del(keys.allowance(org));
      for (const [period, used] of want.allowanceUsed) {
        const p = toPair(used);
        multi.hset(keys.allowance(org), `${period}_w`, p.w, `${period}_r`, p.r);
      }
      multi.del(keys.grants(org));
      // Every id stays known to the store, so none is granted twice; one whose entry is only in an
      // archive not readable here keeps its id without its body.
      const bodies = grants.get(org) ?? new Map<string, string>();
      for (const id of want.grantIds) multi.hset(keys.grants(org), id, bodies.get(id) ?? JSON.stringify({ type: 'grant', org, grant_id: id }));
      await multi.exec();
    }
  }
  return { orgs: orgs.size, uncollected, differences, repaired: repair };
}
