/**
 * Health-aware routing end to end: two providers behind one model, fakes that fail on command, and
 * the openai SDK as the caller. While a healthy alternative exists the caller sees no error; the
 * breaker opens and lets traffic back gradually; health numbers match what the fakes did.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream, type Reply } from '../support/fake-upstream.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';

const MODEL = 'gpt-6-luna';
const ok: Reply = { json: fixtureJson('openai/openai-text.json') };
const chat = { model: MODEL, messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('fallback across providers, breakers and health', () => {
  let primary: FakeUpstream;
  let secondary: FakeUpstream;
  const gateways: TestGateway[] = [];

  before(async () => {
    primary = await FakeUpstream.start();
    secondary = await FakeUpstream.start();
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await primary.close();
    await secondary.close();
  });

  /** A gateway whose MODEL is served by OpenAI first (primary) and OpenRouter second (secondary). */
  async function gateway(routing: Record<string, unknown> = {}): Promise<TestGateway> {
    primary.reset();
    secondary.reset();
    secondary.on('POST', '/api/v1/chat/completions', ok);
    const gw = await startTestGateway({
      upstream: primary,
      credentials: { openrouter: { base_url: `${secondary.url}/api/v1` } },
      config: {
        upstream: { headers_timeout_ms: 300 },
        routes: { [MODEL]: { deployments: [{ provider: 'openai' }, { provider: 'openrouter', upstream_model: 'openai/gpt-6-luna' }] } },
        routing: { breaker: { window_ms: 10_000, min_requests: 4, failure_ratio: 0.5, open_ms: 400, ramp_ms: 400 }, ...routing },
      },
    });
    gateways.push(gw);
    return gw;
  }

  async function send(gw: TestGateway, n: number) {
    const served: string[] = [];
    for (let i = 0; i < n; i++) {
      const { response } = await gw.openai().chat.completions.create(chat).withResponse();
      served.push(`${response.headers.get('x-tollbooth-provider')}/${response.headers.get('x-tollbooth-attempts')}`);
    }
    return served;
  }

  test('one provider fully down: every call answered by the other; the breaker then skips the dead one', async () => {
    const gw = await gateway();
    primary.on('POST', '/v1/chat/completions', { status: 503, json: { error: { message: 'down', type: 'server_error' } } });
    const served = await send(gw, 12);
    assert.deepEqual(served.slice(0, 4), Array(4).fill('openrouter/2'), 'first tries hit the dead provider, then fall back');
    assert.deepEqual(served.slice(4), Array(8).fill('openrouter/1'), 'once open, the breaker skips it');
    assert.equal(primary.requests.length, 4);
    const records = await gw.usage();
    assert.equal(records.length, 12, 'one record per request');
    assert.ok(records.every((r) => r.provider === 'openrouter' && r.status === 200), 'only the serving attempt is charged');
    assert.deepEqual([...new Set(records.map((r) => r.attempts))].sort(), [1, 2]);
    const metrics = await gw.metrics();
    assert.match(metrics, /tollbooth_breaker_state\{provider="openai",model="gpt-6-luna",region="",credential="openai"\} 2/);
    assert.match(metrics, /tollbooth_fallbacks_total\{from_provider="openai",to_provider="openrouter",model="gpt-6-luna"\} 4/);
  });

  test('traffic returns to the recovered provider through the half-open ramp', async () => {
    const gw = await gateway();
    primary.on('POST', '/v1/chat/completions', { status: 500, json: { error: { message: 'boom' } } });
    await send(gw, 5);
    primary.on('POST', '/v1/chat/completions', ok);
    await new Promise((r) => setTimeout(r, 450));
    const served = await send(gw, 30);
    assert.ok(served.includes('openai/1'), 'some traffic goes back during the ramp');
    await new Promise((r) => setTimeout(r, 450));
    assert.deepEqual(await send(gw, 5), Array(5).fill('openai/1'), 'after the ramp all traffic is back');
    assert.match(await gw.metrics(), /tollbooth_breaker_state\{provider="openai",model="gpt-6-luna",region="",credential="openai"\} 0/);
  });

  test('429 with Retry-After: the caller is served elsewhere and the provider is left alone that long', async () => {
    const gw = await gateway();
    primary.on('POST', '/v1/chat/completions', { status: 429, headers: { 'retry-after': '1' }, json: { error: { message: 'slow down', code: 'rate_limit_exceeded' } } });
    assert.deepEqual(await send(gw, 3), ['openrouter/2', 'openrouter/1', 'openrouter/1']);
    assert.equal(primary.requests.length, 1);
    primary.on('POST', '/v1/chat/completions', ok);
    await new Promise((r) => setTimeout(r, 1100));
    await send(gw, 20);
    assert.ok(primary.requests.length > 1, 'after Retry-After the provider gets traffic again');
  });

  test('slow headers and a body reset mid-way both fail over before the caller sees a byte', async () => {
    const gw = await gateway();
    primary.on('POST', '/v1/chat/completions', async () => {
      await new Promise((r) => setTimeout(r, 2500));
      return ok;
    });
    assert.deepEqual(await send(gw, 1), ['openrouter/2']);
    primary.on('POST', '/v1/chat/completions', { frames: ['{"id":"chatcmpl-1","object":"chat.com'], cut: true, headers: { 'content-type': 'application/json' } });
    assert.deepEqual(await send(gw, 1), ['openrouter/2']);
  });

  test('a stream that fails after its first byte ends with an error event and is not retried', async () => {
    const gw = await gateway();
    primary.on('POST', '/v1/chat/completions', { frames: sseFrames(chunkLines('openai/openai-text.chunks.txt').slice(0, 10)), cut: true });
    const stream = await gw.openai().chat.completions.create({ ...chat, stream: true });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, /ended before the response was complete/);
    assert.ok(text.length > 0);
    assert.equal(secondary.requests.length, 0, 'no second provider after bytes reached the caller');
  });

  test('caller errors (400) are not retried and do not count against the provider', async () => {
    const gw = await gateway();
    primary.on('POST', '/v1/chat/completions', { status: 400, json: fixtureJson('openai/reasoning-model-legacy-parameter-error.json') });
    for (let i = 0; i < 8; i++) await assert.rejects(gw.openai().chat.completions.create(chat), (e: any) => e.status === 400);
    assert.equal(secondary.requests.length, 0);
    assert.match(await gw.metrics(), /tollbooth_breaker_state\{provider="openai",model="gpt-6-luna",region="",credential="openai"\} 0/);
  });

  test('401 from a provider marks the credential, not the provider: the next calls skip that credential', async () => {
    const gw = await gateway({ credential_cooldown_ms: 60_000 });
    primary.on('POST', '/v1/chat/completions', { status: 401, json: { error: { message: 'Incorrect API key provided', code: 'invalid_api_key' } } });
    assert.deepEqual(await send(gw, 3), ['openrouter/2', 'openrouter/1', 'openrouter/1']);
    assert.equal(primary.requests.length, 1);
    assert.match(await gw.metrics(), /tollbooth_breaker_state\{provider="openai",model="gpt-6-luna",region="",credential="openai"\} 0/, 'the provider’s breaker stays closed');
  });

  test('the admin health endpoint reports success rate, p50 latency and last check as the fakes behaved', async () => {
    const gw = await gateway({ breaker: { window_ms: 10_000, min_requests: 1000, failure_ratio: 0.5, open_ms: 400, ramp_ms: 400 } });
    let n = 0;
    primary.on('POST', '/v1/chat/completions', async () => {
      n++;
      await new Promise((r) => setTimeout(r, 40));
      return n % 4 === 0 ? { status: 503, json: { error: { message: 'x' } } } : ok;
    });
    const started = Date.now();
    await send(gw, 8);
    const res = await fetch(`${gw.opsUrl}/health/providers`, { headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme' } });
    assert.equal(res.status, 200);
    const { providers } = (await res.json()) as any;
    const openai = providers.find((p: any) => p.provider === 'openai');
    assert.equal(openai.requests, 8);
    assert.equal(openai.success_rate, 6 / 8, '2 of 8 answered 503');
    const deployment = openai.deployments.find((d: any) => d.model === MODEL);
    assert.ok(deployment.p50_latency_ms >= 40 && deployment.p50_latency_ms < 400, `p50 ${deployment.p50_latency_ms}`);
    assert.ok(Date.parse(openai.last_check) >= started);
    const member = await fetch(`${gw.opsUrl}/health/providers`, { headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'x-organization-id': 'acme' } });
    assert.equal(member.status, 403);
    assert.ok('detail' in ((await member.json()) as object));
  });
});
