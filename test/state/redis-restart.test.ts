/**
 * Redis restarted under load. With its persistence (AOF): calls in flight at the restart fail or
 * are served, nothing is charged twice, every answered call is in the consolidated ledger once, and
 * `ledger reconcile` finds Redis equal to the ledger. Without persistence (Redis comes back empty):
 * reconcile lists what Redis lost, `--repair` puts it back, and reconcile is clean again.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { freePort, ledgerEntries, REDIS_SKIP, startRedisServer, tollbooth } from '../support/redis.ts';


describe('Redis restarted under load', { skip: REDIS_SKIP }, () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let redis: ChildProcess;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-redis-'));
  let configFile: string;
  const consolidatedDir = join(dir, 'consolidated');

  const startRedis = (persistent: boolean) => (redis = startRedisServer(port, dir, persistent));
  const stopRedis = async (persistent: boolean) => {
    spawnSync('redis-cli', ['-p', String(port), 'shutdown', persistent ? 'save' : 'nosave']);
    if (redis.exitCode === null) await once(redis, 'exit');
    if (!persistent) for (const f of readdirSync(dir)) if (/^(appendonly|dump)/.test(f)) rmSync(join(dir, f), { recursive: true, force: true });
  };
  const available = async () => /^tollbooth_state_store_available\{mode="redis"\} (\d)/m.exec(await gw.metrics())?.[1];
  const untilAvailable = async (want: string) => {
    while ((await available()) !== want) await new Promise((r) => setTimeout(r, 20));
  };

  before(async () => {
    port = await freePort();
    startRedis(true);
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    gw = await startTestGateway({
      upstream,
      config: {
        state: { mode: 'redis', redis: { url: `redis://127.0.0.1:${port}`, command_timeout_ms: 2000 } },
        plans: { starter: { allowance: { credits: '100000', period: 'monthly' } } },
        orgs: [{ id: 'acme', name: 'Acme', plan: 'starter', wallet: { grants: [{ id: 'seed', credits: '500' }] } }, { id: 'globex', name: 'Globex' }],
      },
    });
    configFile = join(gw.dir, 'tollbooth.yaml');
    await untilAvailable('1');
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    redis?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Calls from `workers` loops until stopped; the x-request-ids of the answered ones. */
  function load(workers: number) {
    const answered: string[] = [];
    let stopped = false;
    const loops = Array.from({ length: workers }, async () => {
      while (!stopped) {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000 }),
        });
        await res.text();
        if (res.status === 200) answered.push(res.headers.get('x-request-id')!);
        else if (res.status !== 503) assert.fail(`a call answered ${res.status}`);
      }
    });
    return { answered, stop: async () => ((stopped = true), await Promise.all(loops)) };
  }

  test('with persistence: nothing charged twice, every answered call collected once, reconcile clean', async () => {
    const traffic = load(8);
    while (traffic.answered.length < 100) await new Promise((r) => setTimeout(r, 5));
    await stopRedis(true);
    await untilAvailable('0');
    startRedis(true);
    await untilAvailable('1');
    const atRestart = traffic.answered.length;
    while (traffic.answered.length < atRestart + 100) await new Promise((r) => setTimeout(r, 5));
    await traffic.stop();
    // Settles that failed during the restart are retried: wait until none is pending.
    while (!/^tollbooth_state_pending_settles 0$/m.test(await gw.metrics())) await new Promise((r) => setTimeout(r, 20));

    const collect = tollbooth(['ledger', 'collect', '--once', '--config', configFile, '--dir', consolidatedDir]);
    assert.equal(collect.code, 0, collect.out);
    const charges = ledgerEntries(consolidatedDir).filter((e) => e.type === 'charge');
    const ids = new Set(charges.map((c) => c.request_id));
    assert.equal(ids.size, charges.length, 'no request charged twice');
    assert.deepEqual(traffic.answered.filter((id) => !ids.has(id)), [], 'every answered call is in the consolidated ledger');
    const reconcile = tollbooth(['ledger', 'reconcile', '--config', configFile, '--dir', consolidatedDir]);
    assert.equal(reconcile.code, 0, reconcile.out);
  });

  test('without persistence: Redis comes back empty, reconcile lists it, --repair restores the balances', async () => {
    const before = tollbooth(['ledger', 'reconcile', '--config', configFile, '--dir', consolidatedDir]);
    assert.equal(before.code, 0, before.out);
    await stopRedis(false);
    await untilAvailable('0');
    startRedis(false);
    await untilAvailable('1');

    const lost = tollbooth(['ledger', 'reconcile', '--config', configFile, '--dir', consolidatedDir]);
    assert.equal(lost.code, 1, lost.out);
    assert.match(lost.out, /^acme\tcharged\tledger \d+(\.\d+)?\tredis 0$/m);
    const repair = tollbooth(['ledger', 'reconcile', '--repair', '--config', configFile, '--dir', consolidatedDir]);
    assert.equal(repair.code, 0, repair.out);
    const after = tollbooth(['ledger', 'reconcile', '--config', configFile, '--dir', consolidatedDir]);
    assert.equal(after.code, 0, after.out);
    // Money decisions go on from the repaired balances: the seed grant is known, not granted twice.
    const balance = (await (await fetch(`${gw.opsUrl}/orgs/acme/balance`, { headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme' } })).json()) as { wallet: { granted: string } };
    assert.equal(balance.wallet.granted, '500');
  });
});
