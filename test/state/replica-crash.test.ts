/**
 * Replicas that die (state: redis): one killed with SIGKILL under load and started again, another
 * stopped with SIGTERM and its data directory deleted (a sidecar's emptyDir dies with its pod).
 * The consolidated ledger (collector) still holds exactly one charge per answered request, none
 * twice; the holds of requests that died in flight free themselves by TTL.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RedisStateStore } from '../../src/state/redis/redis-store.ts';
import { startChildGateway, type ChildGateway } from '../support/child-gateway.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, writeTestConfig } from '../support/gateway.ts';
import { connectStore, ledgerEntries, REDIS_SKIP, REDIS_URL, tollbooth, uniquePrefix } from '../support/redis.ts';


describe('replicas that die', { skip: REDIS_SKIP }, () => {
  let upstream: FakeUpstream;
  let store: RedisStateStore;
  const prefix = uniquePrefix();
  const configs: Array<{ dir: string; file: string; env: Record<string, string> }> = [];
  const replicas: ChildGateway[] = [];
  let consolidatedDir: string;

  before(async () => {
    upstream = await FakeUpstream.start();
    const recording = fixtureJson('openai/openai-text.json');
    // A little latency upstream, so a kill finds requests in flight (holds taken, not settled).
    upstream.on('POST', '/v1/chat/completions', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { json: recording };
    });
    const options = {
      upstream,
      config: {
        state: { mode: 'redis', hold_ttl_ms: 1000, redis: { url: REDIS_URL, key_prefix: prefix } },
        plans: { starter: { allowance: { credits: '1000000', period: 'monthly' } } },
        orgs: [{ id: 'acme', name: 'Acme', plan: 'starter' }, { id: 'globex', name: 'Globex' }],
      },
    };
    configs.push(writeTestConfig(options), writeTestConfig(options));
    consolidatedDir = join(configs[0]!.dir, 'consolidated');
    replicas.push(...(await Promise.all(configs.map((c) => startChildGateway(c.file, c.env)))));
    store = await connectStore({ keyPrefix: prefix });
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await store?.close();
    await upstream?.close();
  });

  /** Sends calls to `gw` from `workers` loops until `stop()`; returns the ids of the answered ones. */
  function load(gw: ChildGateway, workers: number) {
    const answered: string[] = [];
    let stopped = false;
    const loops = Array.from({ length: workers }, async () => {
      while (!stopped) {
        try {
          const res = await fetch(`${gw.proxyUrl}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1000 }),
          });
          const body = await res.text();
          // Answered: the whole body reached the client (its final byte follows the charge's write).
          if (res.status === 200 && body.endsWith('}')) answered.push(res.headers.get('x-request-id')!);
        } catch {
          // The replica died under this request: not answered.
          if (gw.child.exitCode !== null || gw.child.signalCode !== null) return;
        }
      }
    });
    return { answered, stop: async () => ((stopped = true), await Promise.all(loops)) };
  }

  test('kill -9 under load, restart; SIGTERM and delete the data dir: every answered charge once in the consolidated ledger', async () => {
    const [a, b] = replicas as [ChildGateway, ChildGateway];
    const onA = load(a, 16);
    const onB = load(b, 4);
    while (onA.answered.length < 200) await new Promise((r) => setTimeout(r, 5));
    a.child.kill('SIGKILL');
    await onA.stop();
    // Requests that were in flight on A hold credits nobody will settle: they expire by TTL.
    replicas[0] = await startChildGateway(configs[0]!.file, configs[0]!.env);
    const onA2 = load(replicas[0]!, 4);
    while (onA2.answered.length < 50) await new Promise((r) => setTimeout(r, 5));
    await onA2.stop();
    await onB.stop();

    // B goes away with its pod: SIGTERM, then its emptyDir is deleted.
    assert.equal(await b.stop('SIGTERM'), 0);
    rmSync(join(configs[1]!.dir, 'data'), { recursive: true, force: true });

    let held = 1n;
    while (held !== 0n) held = (await store.balance('acme', null, new Date())).held;

    const run = tollbooth(['ledger', 'collect', '--once', '--config', configs[0]!.file, '--dir', consolidatedDir]);
    assert.equal(run.code, 0, run.out);
    const charges = ledgerEntries(consolidatedDir).filter((e) => e.type === 'charge');
    const byRequest = new Map<string, number>();
    for (const c of charges) byRequest.set(String(c.request_id), (byRequest.get(String(c.request_id)) ?? 0) + 1);
    const answered = [...onA.answered, ...onA2.answered, ...onB.answered];
    const missing = answered.filter((id) => !byRequest.has(id));
    assert.deepEqual(missing, [], 'every answered request has its charge in the consolidated ledger');
    assert.equal(new Set(charges.map((c) => c.settle_id)).size, charges.length, 'no charge twice');
    assert.ok([...byRequest.values()].every((n) => n === 1), 'one charge per request');
    assert.ok(onB.answered.length > 0 && charges.some((c) => String(c.instance) !== String(charges[0]!.instance)), 'both replicas charged');
  });
});
