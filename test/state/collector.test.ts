/**
 * The collector and reconcile, as an operator runs them (`tollbooth ledger collect|reconcile`):
 * a collector killed with SIGKILL mid-stream and started again writes exactly one consolidated
 * entry per charge; the consolidated ledger verifies; reconcile finds what Redis lost and --repair
 * puts it back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCredits } from '../../src/metering/credits.ts';
import type { RedisStateStore } from '../../src/state/redis/redis-store.ts';
import { COLLECTOR_GROUP } from '../../src/state/collector.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { writeTestConfig } from '../support/gateway.ts';
import { connectStore, ledgerEntries, REDIS_SKIP, REDIS_URL, tollbooth, uniquePrefix } from '../support/redis.ts';

const CHARGES = 3000;

/** Every line of the consolidated ledger, parsed. */
describe('collector and reconcile', { skip: REDIS_SKIP }, () => {
  let upstream: FakeUpstream;
  let store: RedisStateStore;
  let file: string;
  let dir: string;
  const prefix = uniquePrefix();
  const record = (i: number) => ({ request_id: `r${i}`, org: i % 2 ? 'acme' : 'globex', credits: '1.000000000001', ts: new Date().toISOString(), billing: 'managed' });

  before(async () => {
    upstream = await FakeUpstream.start();
    const written = writeTestConfig({ upstream, config: { state: { mode: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } } } });
    file = written.file;
    dir = join(written.dir, 'consolidated');
    store = await connectStore({ keyPrefix: prefix });
    await store.grant({ org: 'acme', grantId: 'seed', pico: parseCredits('10000'), entry: JSON.stringify({ type: 'grant', org: 'acme', grant_id: 'seed', credits: '10000', kind: 'grant', source: 'config', by: null, note: '', ts: new Date().toISOString() }) });
    await store.client.sadd(store.keys.orgs(), 'acme', 'globex');
    // Charges as replicas settle them: each one in its org's stream once.
    for (let i = 0; i < CHARGES; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) => {
          const r = record(i + j);
          return store.settle({ org: r.org, holdId: randomUUID(), pico: parseCredits(r.credits), allowance: null, at: r.ts, record: JSON.stringify(r) });
        }),
      );
    }
  });
  after(async () => {
    await store?.close();
    await upstream?.close();
  });

  test('a collector killed mid-stream and started again writes each charge exactly once', async () => {
    const child = spawn(process.execPath, [new URL('../../src/cli.ts', import.meta.url).pathname, 'ledger', 'collect', '--config', file, '--dir', dir], { stdio: 'ignore' });
    // Kill it once it has written part of the streams, whatever the moment within a batch.
    while (ledgerEntries(dir).length < 500 && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await once(child, 'exit');

    const again = tollbooth(['ledger', 'collect', '--once', '--config', file, '--dir', dir]);
    assert.equal(again.code, 0, again.out);
    const entries = ledgerEntries(dir);
    const charges = entries.filter((e) => e.type === 'charge');
    assert.equal(charges.length, CHARGES, 'one consolidated entry per charge');
    assert.equal(new Set(charges.map((c) => c.settle_id)).size, CHARGES, 'no charge twice');
    assert.equal(entries.filter((e) => e.type === 'grant').length, 1);
    const verify = tollbooth(['ledger', 'verify', '--dir', dir]);
    assert.equal(verify.code, 0, verify.out);
    assert.equal(await store.client.xlen(store.keys.stream('acme')) <= 1, true, 'acknowledged entries are trimmed');
  });

  test('entries delivered again (a crash between fsync and acknowledgement) are not written twice', async () => {
    const before = ledgerEntries(dir).length;
    for (const org of ['acme', 'globex']) await store.client.xgroup('SETID', store.keys.stream(org), COLLECTOR_GROUP, '0');
    const run = tollbooth(['ledger', 'collect', '--once', '--config', file, '--dir', dir]);
    assert.equal(run.code, 0, run.out);
    assert.equal(ledgerEntries(dir).length, before);
  });

  test('reconcile: equal after collecting; Redis data lost → differences listed → --repair → equal', async () => {
    const ok = tollbooth(['ledger', 'reconcile', '--config', file, '--dir', dir]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /^ok: Redis balances equal the ledger/m);

    // Redis restarted without persistence, for this org.
    await store.client.del(store.keys.account('acme'), store.keys.grants('acme'));
    const diff = tollbooth(['ledger', 'reconcile', '--config', file, '--dir', dir]);
    assert.equal(diff.code, 1, diff.out);
    assert.match(diff.out, /^acme\twallet\tledger 8499\.9999999985\tredis 0$/m);
    assert.match(diff.out, /^acme\tgrant:seed\tledger recorded\tredis missing$/m);

    const repair = tollbooth(['ledger', 'reconcile', '--repair', '--config', file, '--dir', dir]);
    assert.equal(repair.code, 0, repair.out);
    const after = tollbooth(['ledger', 'reconcile', '--config', file, '--dir', dir]);
    assert.equal(after.code, 0, after.out);
    const balance = await store.balance('acme', null, new Date());
    assert.equal(balance.wallet, parseCredits('10000') - 1500n * parseCredits('1.000000000001'));
    // The grant id is known again: a repeated config grant does not add credits twice.
    assert.equal((await store.grant({ org: 'acme', grantId: 'seed', pico: parseCredits('10000'), entry: '{}' })).created, false);
  });
});
