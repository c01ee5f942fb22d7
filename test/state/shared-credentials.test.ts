/**
 * Org credentials across replicas (state: redis): a credential created, rotated or deleted through
 * the admin API of replica A is used by replica B without a restart; what Redis holds is sealed
 * (no key in it). Two real gateway processes, a real Redis, the fake upstream.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startChildGateway, type ChildGateway } from '../support/child-gateway.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, providerKey, writeTestConfig } from '../support/gateway.ts';
import { rawClient, REDIS_SKIP, REDIS_URL, uniquePrefix } from '../support/redis.ts';

const STORE_KEY = randomBytes(32).toString('base64');
const orgKey = (label: string) => `sk-org-${label}-${randomBytes(10).toString('hex')}`;

describe('org credentials shared by replicas', { skip: REDIS_SKIP }, () => {
  let fake: FakeUpstream;
  let a: ChildGateway;
  let b: ChildGateway;
  const prefix = uniquePrefix();

  before(async () => {
    fake = await FakeUpstream.start();
    fake.on('GET', '/v1/models', { json: { object: 'list', data: [] } });
    fake.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    const options = {
      upstream: fake,
      config: {
        state: { mode: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
        credential_store: { key: { env: 'TB_STORE_KEY' } },
      },
      env: { TB_STORE_KEY: STORE_KEY },
    };
    const [ca, cb] = [writeTestConfig(options), writeTestConfig(options)];
    [a, b] = await Promise.all([startChildGateway(ca!.file, ca!.env), startChildGateway(cb!.file, cb!.env)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await fake?.close();
  });

  const admin = async (gw: ChildGateway, method: string, path: string, body?: unknown) => {
    const res = await fetch(gw.opsUrl + path, {
      method,
      headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  /** The key replica `gw` sends upstream for one chat call of the org. */
  const keyUsedBy = async (gw: ChildGateway): Promise<string> => {
    const content = `probe ${randomBytes(4).toString('hex')}`;
    const res = await fetch(`${gw.proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content }] }),
    });
    assert.equal(res.status, 200);
    const seen = fake.requests.findLast((r) => r.path === '/v1/chat/completions' && r.json().messages[0].content === content)!;
    return String(seen.headers.authorization).replace('Bearer ', '');
  };
  const untilUsedBy = async (gw: ChildGateway, key: string) => {
    while ((await keyUsedBy(gw)) !== key) await new Promise((r) => setTimeout(r, 20));
  };

  test('created, rotated and deleted on replica A: replica B follows', async () => {
    assert.equal(await keyUsedBy(b), providerKey('openai'), 'before: the operator key');

    const first = orgKey('first');
    const created = await admin(a, 'POST', '/credentials', { provider_name: 'openai', name: 'Our key', auth_data: { api_key: first }, is_default: true });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await untilUsedBy(b, first);
    assert.equal((await admin(b, 'GET', `/credentials/${created.body.id}`)).body.fingerprint, created.body.fingerprint, 'B lists it too');

    const second = orgKey('second');
    const rotated = await admin(a, 'POST', `/credentials/${created.body.id}/rotate`, { auth_data: { api_key: second } });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    await untilUsedBy(b, second);

    // Nothing readable in Redis: the records are sealed with credential_store.key.
    const redis = rawClient();
    try {
      const stored = JSON.stringify(await redis.hgetall(`${prefix}:{credentials}:records`));
      assert.ok(stored.includes(created.body.id));
      for (const key of [first, second]) assert.ok(!stored.includes(key) && !stored.includes(Buffer.from(key).toString('base64')));
    } finally {
      redis.disconnect();
    }

    assert.equal((await fetch(`${a.opsUrl}/credentials/${created.body.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme' } })).ok, true);
    await untilUsedBy(b, providerKey('openai'));
  });
});
