/**
 * `tollbooth ledger collect|reconcile`: the consolidated ledger of a `state: redis` deployment.
 *   collect    writes every replica's charges and grants from the shared streams into the
 *              consolidated ledger in --dir (default: the config's ledger.dir), exactly once per
 *              stream entry; runs until SIGTERM, or once with --once.
 *   reconcile  compares that ledger (and what the streams hold that is not collected yet) with the
 *              balances in Redis; lists differences (exit 1 when any); --repair rebuilds Redis'
 *              balances from the ledger.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { TollboothConfig } from '../config/types.ts';
import { Ledger } from '../metering/ledger/ledger.ts';
import { Collector } from '../state/collector.ts';
import { instanceId } from '../state/instance.ts';
import { redisStoreFor } from '../state/open.ts';
import { reconcile } from '../state/reconcile.ts';
import { createLogger } from '../util/log.ts';

type Out = { out: (s: string) => void; err: (s: string) => void };

export async function collect(config: TollboothConfig, dir: string, once: boolean, io: Out): Promise<number> {
  if (config.state.mode !== 'redis') {
    io.err('ledger collect: the config has no shared state (state.mode: redis): each process\'s own ledger is the whole record\n');
    return 2;
  }
  const log = createLogger(config.log.level);
  const store = await redisStoreFor(config, process.env);
  await store.connect();
  const ledger = await Ledger.open({ dir, instance: `collector-${instanceId(config)}`, log });
  const collector = new Collector({ store, ledger, log, leaseHolder: `${hostname()}:${resolve(dir)}` });
  try {
    if (once) {
      const written = await collector.collectOnce();
      io.out(`collected ${written} entries into ${dir} (head seq ${ledger.head.seq})\n`);
      return 0;
    }
    const stop = new AbortController();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop.abort());
    log.info({ dir }, 'collector: writing the consolidated ledger');
    await collector.run(stop.signal);
    return 0;
  } finally {
    await ledger.close();
    await store.close();
  }
}

export async function reconcileCommand(config: TollboothConfig, dir: string, repair: boolean, io: Out): Promise<number> {
  if (config.state.mode !== 'redis') {
    io.err('ledger reconcile: the config has no shared state (state.mode: redis)\n');
    return 2;
  }
  const store = await redisStoreFor(config, process.env);
  await store.connect();
  try {
    const result = await reconcile(store, dir, repair);
    for (const d of result.differences) io.out(`${d.org}\t${d.what}\tledger ${d.ledger}\tredis ${d.redis}\n`);
    const where = `${result.orgs} org(s); ${result.uncollected} stream entr${result.uncollected === 1 ? 'y' : 'ies'} not collected yet included`;
    if (result.differences.length === 0) {
      io.out(`ok: Redis balances equal the ledger (${where})\n`);
      return 0;
    }
    io.out(`${result.differences.length} difference(s) (${where})${repair ? '; repaired: Redis now holds the ledger\'s balances' : '; --repair sets Redis to the ledger'}\n`);
    return repair ? 0 : 1;
  } finally {
    await store.close();
  }
}

