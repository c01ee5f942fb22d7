/**
 * When Redis goes away (state.on_unavailable: deny): managed calls get a 503 DenialEnvelope with
 * layer "state", BYOK calls still pass, readiness stays up, the metric says so; when Redis is back,
 * managed calls are served again. A Redis of the test's own is stopped and restarted.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { freePort, REDIS_SKIP, startRedisServer } from '../support/redis.ts';


describe('Redis unreachable', { skip: REDIS_SKIP }, () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let redis: ChildProcess;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-redis-'));

  const available = async () => /^tollbooth_state_store_available\{mode="redis"\} (\d)/m.exec(await gw.metrics())?.[1];
  const waitFor = async (want: string) => {
    while ((await available()) !== want) await new Promise((r) => setTimeout(r, 20));
  };
  const chat = (model: string) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000 }),
    });

  before(async () => {
    port = await freePort();
    redis = startRedisServer(port, dir);
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    upstream.on('POST', '/openai/v1/chat/completions', { json: fixtureJson('groq/groq-text.json') });
    // The server may take a moment to listen: the gateway starts either way and says so.
    gw = await startTestGateway({
      upstream,
      credentials: { groq: { billing: 'byok' } },
      config: {
        state: { mode: 'redis', redis: { url: `redis://127.0.0.1:${port}`, command_timeout_ms: 2000 } },
        plans: { starter: { allowance: { credits: '100', period: 'daily' } } },
        orgs: [{ id: 'acme', name: 'Acme', plan: 'starter' }, { id: 'globex', name: 'Globex' }],
      },
    });
    await waitFor('1');
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    redis?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('managed calls are denied with a 503 (layer state), BYOK calls pass, and service resumes', async () => {
    assert.equal((await chat('gpt-4.1-nano')).status, 200);

    spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
    await once(redis, 'exit');
    await waitFor('0');

    const denied = await chat('gpt-4.1-nano');
    assert.equal(denied.status, 503);
    const body = (await denied.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['code', 'current', 'key', 'layer', 'limit', 'reason']);
    assert.deepEqual([body.code, body.layer, body.key], ['state_unavailable', 'state', 'acme']);
    const byok = await chat('llama-3.3-70b-versatile');
    assert.equal(byok.status, 200, 'a BYOK call costs no credits: it passes');
    assert.equal((await fetch(`${gw.opsUrl}/readyz`)).status, 200, 'readiness stays up');

    redis = startRedisServer(port, dir);
    await waitFor('1');
    assert.equal((await chat('gpt-4.1-nano')).status, 200);
  });
});

describe('Redis unreachable with on_unavailable: local', { skip: REDIS_SKIP }, () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let redis: ChildProcess;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-redis-'));

  const metric = async (name: string) => new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(await gw.metrics())?.[1];
  const waitFor = async (name: string, want: string) => {
    while ((await metric(name)) !== want) await new Promise((r) => setTimeout(r, 20));
  };
  const chat = () =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000 }),
    });

  before(async () => {
    port = await freePort();
    redis = startRedisServer(port, dir);
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    gw = await startTestGateway({
      upstream,
      config: {
        state: { mode: 'redis', on_unavailable: 'local', leases: { holds_per_lease: 8, share: 1 }, redis: { url: `redis://127.0.0.1:${port}` } },
        plans: { starter: { allowance: { credits: '1000', period: 'daily' } } },
        orgs: [{ id: 'acme', name: 'Acme', plan: 'starter' }, { id: 'globex', name: 'Globex' }],
      },
    });
    await waitFor('tollbooth_state_store_available', '1');
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    redis?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('the replica serves from its lease while Redis is away, and settles those charges once it is back', async () => {
    assert.equal((await chat()).status, 200, 'the first call takes a lease');
    spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
    await once(redis, 'exit');
    await waitFor('tollbooth_state_store_available', '0');

    assert.equal((await chat()).status, 200, 'served from what the lease still holds');
    await waitFor('tollbooth_state_pending_settles', '1');
    const charges = await gw.usage();
    assert.equal(charges.length, 2);

    // Redis comes back empty (no persistence): the pending settle is booked there.
    redis = startRedisServer(port, dir);
    await waitFor('tollbooth_state_store_available', '1');
    await waitFor('tollbooth_state_pending_settles', '0');
    const balance = await (await fetch(`${gw.opsUrl}/orgs/acme/balance`, { headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme' } })).json() as { charged: string };
    assert.equal(balance.charged, charges[1]!.credits, 'the charge made during the outage reached Redis (what came before was lost with it: reconcile --repair restores it)');
  });
});
