/**
 * Routing that recovers, end to end: the real sidecar in front of two fakes, the first one failing at
 * a scripted rate. The breakers run on a clock the test moves (no sleeps, no wall clock): requests are
 * sent one after another, the clock stepping between them as if they arrived at a steady rate.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { RoutingHealth } from '../../src/routing/routing-health.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { FakeUpstream, type Reply } from '../support/fake-upstream.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';

const MODEL = 'gpt-6-luna';
const ok: Reply = { json: fixtureJson('openai/openai-text.json') };
const breaker = { window_ms: 10_000, min_requests: 10, failure_ratio: 0.5, open_ms: 5_000, max_open_ms: 15_000, ramp_ms: 10_000 };
/** Simulated arrival rate: one request every 50 ms of the test's clock (20/s). */
const STEP_MS = 50;

describe('breaker recovery through the sidecar', () => {
  let primary: FakeUpstream;
  let secondary: FakeUpstream;
  let gw: TestGateway;
  const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
  /** The primary's scripted error rate, and how many requests it has answered at that rate. */
  const script = { rate: 0, answered: 0, retryAfter: null as string | null };

  before(async () => {
    primary = await FakeUpstream.start();
    secondary = await FakeUpstream.start();
    primary.on('POST', '/v1/chat/completions', () => {
      const i = script.answered++;
      if (script.retryAfter !== null) return { status: 429, headers: { 'retry-after': script.retryAfter }, json: { error: { message: 'slow down', code: 'rate_limit_exceeded' } } };
      // Faults spread evenly: rate 0.27 fails 27 of every 100, never two in a row.
      const fault = Math.floor((i + 1) * script.rate) > Math.floor(i * script.rate);
      return fault ? { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } } : ok;
    });
    secondary.on('POST', '/api/v1/chat/completions', ok);
    gw = await startTestGateway({
      upstream: primary,
      credentials: { openrouter: { base_url: `${secondary.url}/api/v1` } },
      config: {
        routes: { [MODEL]: { deployments: [{ provider: 'openai' }, { provider: 'openrouter', upstream_model: 'openai/gpt-6-luna' }] } },
        routing: { breaker },
      },
    });
  });
  after(async () => {
    await gw.close();
    await primary.close();
    await secondary.close();
  });

  beforeEach(() => {
    // Fresh breakers on the test's clock for every test, with a seeded coin for the ramp.
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    gw.gateway.services.health = new RoutingHealth(gw.gateway.services.health.policy, { clock: () => clock.now, random });
    clock.now += 3_600_000;
    Object.assign(script, { rate: 0, answered: 0, retryAfter: null });
  });

  /** Sends `n` requests, the clock stepping between them; returns how many reached the primary, and who served. */
  async function traffic(n: number, until?: () => Promise<boolean>) {
    const before = primary.requests.length;
    const served: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 200, 'the caller is always served');
      served.push(`${res.headers.get('x-tollbooth-provider')}/${res.headers.get('x-tollbooth-attempts')}`);
      if (until && (await until())) break;
      clock.now += STEP_MS;
    }
    return { toPrimary: primary.requests.length - before, served };
  }

  /** The primary's breaker as the admin endpoint reports it. */
  async function primaryBreaker(): Promise<{ breaker: string; open_until: string | null }> {
    const res = await fetch(`${gw.opsUrl}/health/providers`, { headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme' } });
    const { providers } = (await res.json()) as any;
    return providers.find((p: any) => p.provider === 'openai').deployments.find((d: any) => d.model === MODEL);
  }
  const isOpen = async () => (await primaryBreaker()).breaker === 'open';
  /** How long the breaker was opened for, when it opened at the clock's current time. */
  const openPeriod = async () => Date.parse((await primaryBreaker()).open_until!) - clock.now;

  /** A transition counter's value for the primary deployment, from /metrics. */
  async function transitions(from: string, to: string): Promise<number> {
    const line = new RegExp(`tollbooth_breaker_transitions_total\\{provider="openai",model="${MODEL}",region="",credential="openai",from="${from}",to="${to}"\\} (\\d+)`);
    return Number(line.exec(await gw.metrics())?.[1] ?? 0);
  }
  async function stateGauge(): Promise<number> {
    const line = new RegExp(`tollbooth_breaker_state\\{provider="openai",model="${MODEL}",region="",credential="openai"\\} (\\d)`);
    return Number(line.exec(await gw.metrics())?.[1]);
  }

  /** A full outage until the breaker opens; returns when it opened. */
  async function outage(): Promise<number> {
    script.rate = 1;
    const { served } = await traffic(breaker.min_requests + 5, isOpen);
    assert.equal(served.length, breaker.min_requests, 'it opens once the window holds min_requests');
    assert.equal(await openPeriod(), breaker.open_ms);
    return clock.now;
  }

  test('an outage then recovery to 2% errors: all traffic back within open_ms + ramp_ms', async () => {
    const openedAt = await outage();
    script.rate = 0.02;
    script.answered = 0;
    clock.now += STEP_MS;
    const whileOpen = await traffic(20);
    assert.equal(whileOpen.toPrimary, 0, 'open: the primary is left alone');
    assert.ok(whileOpen.served.every((s) => s === 'openrouter/1'));
    clock.now = openedAt + breaker.open_ms;
    const ramp = await traffic(breaker.ramp_ms / STEP_MS);
    assert.ok(ramp.toPrimary > 20 && ramp.toPrimary < breaker.ramp_ms / STEP_MS, `the ramp let part of the traffic through (${ramp.toPrimary})`);
    assert.ok(ramp.served.filter((s) => s === 'openrouter/2').length >= 1, 'the 2% faults during the ramp (which reopened the old breaker) fell back');
    assert.equal(clock.now, openedAt + breaker.open_ms + breaker.ramp_ms);
    const back = await traffic(100);
    assert.equal(back.toPrimary, 100, 'every request goes to the primary first');
    assert.equal(back.served.filter((s) => s === 'openai/1').length, 98, '2% still fall back');
    assert.equal(await stateGauge(), 0);
    assert.deepEqual(
      [await transitions('closed', 'open'), await transitions('open', 'half_open'), await transitions('half_open', 'closed'), await transitions('half_open', 'open')],
      [1, 1, 1, 0],
    );
  });

  test('a steady 27% with threshold 0.5 is never opened, closed or ramping', async () => {
    script.rate = 0.27;
    const steady = await traffic(300);
    assert.equal(steady.toPrimary, 300, 'every request went to the primary first');
    assert.equal(steady.served.filter((s) => s === 'openrouter/2').length, 81, '27% fell back');
    assert.equal(await stateGauge(), 0);
    assert.equal(await transitions('closed', 'open'), 0);

    clock.now += breaker.window_ms;
    const openedAt = await outage();
    Object.assign(script, { rate: 0.27, answered: 0 });
    clock.now = openedAt + breaker.open_ms;
    await traffic(breaker.ramp_ms / STEP_MS);
    assert.equal((await traffic(100)).toPrimary, 100, 'back at 27%, the ramp ends with all traffic back');
    assert.equal(await transitions('half_open', 'open'), 0);
    assert.equal(await transitions('half_open', 'closed'), 1);
  });

  test('a recovery that relapses above the threshold reopens it, for longer each time, up to the cap', async () => {
    const openedAt = await outage();
    Object.assign(script, { rate: 0.6, answered: 0 });
    clock.now = openedAt + breaker.open_ms;
    const periods = [breaker.open_ms];
    for (let trip = 0; trip < 2; trip++) {
      const ramp = await traffic(breaker.ramp_ms / STEP_MS, isOpen);
      assert.ok(ramp.toPrimary >= breaker.min_requests, `judged on at least min_requests of the ramp (${ramp.toPrimary})`);
      periods.push(await openPeriod());
      clock.now = Date.parse((await primaryBreaker()).open_until!);
    }
    assert.deepEqual(periods, [5_000, 10_000, 15_000], 'open_ms, doubled, capped at max_open_ms');
    assert.equal(await transitions('half_open', 'open'), 2);

    Object.assign(script, { rate: 0.02, answered: 0 });
    const reopenedAt = clock.now;
    await traffic(breaker.ramp_ms / STEP_MS);
    assert.equal(clock.now, reopenedAt + breaker.ramp_ms);
    assert.equal((await traffic(50)).toPrimary, 50, 'recovered at last: all traffic back after the ramp');
    assert.equal(await stateGauge(), 0);
  });

  test("a provider's Retry-After pause is kept as it is, and is not a fault trip", async () => {
    script.retryAfter = '30';
    const first = await traffic(1);
    assert.deepEqual(first.served, ['openrouter/2']);
    const held = await traffic(30_000 / STEP_MS - 1);
    assert.equal(held.toPrimary, 0, 'left alone for the 30 s it asked for');
    script.retryAfter = null;
    await traffic(breaker.ramp_ms / STEP_MS + 1);
    assert.equal((await traffic(20)).toPrimary, 20, 'after the pause and the ramp: all traffic back');
    clock.now += breaker.window_ms;
    await outage();
  });
});
