/**
 * Upstreams that accept and never answer, or stall mid-stream: a per-attempt first-byte limit
 * (routing default, per route, per deployment) abandons the attempt, counts it against the
 * deployment's health and tries the next one; routing.deadline_ms bounds the attempt in flight; a
 * stream that stalls after bytes reached the client ends with an explicit error event. Small
 * configured limits, outcomes asserted (never durations).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { apiError } from '../support/expect.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';

const MODEL = 'gpt-6-luna';
const chat = { model: MODEL, messages: [{ role: 'user' as const, content: 'Hi' }] };
const never = () => new Promise<never>(() => {});

describe('hung and stalled upstreams', () => {
  let primary: FakeUpstream;
  let secondary: FakeUpstream;
  let stalling: Server;
  let stallingUrl: string;
  const gateways: TestGateway[] = [];

  before(async () => {
    primary = await FakeUpstream.start();
    secondary = await FakeUpstream.start();
    secondary.on('POST', '/api/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    // Sends the head and the first recorded chunks of a stream, then nothing more, ever.
    const frames = sseFrames(chunkLines('openai/openai-text.chunks.txt')).slice(0, 4);
    stalling = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const f of frames) res.write(f);
      });
    });
    stalling.listen(0, '127.0.0.1');
    await once(stalling, 'listening');
    stallingUrl = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`;
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await primary.close();
    await secondary.close();
    stalling.closeAllConnections();
    stalling.close();
  });

  async function gateway(config: Record<string, unknown>, credentials: Record<string, Record<string, unknown>> = {}): Promise<TestGateway> {
    const gw = await startTestGateway({
      upstream: primary,
      credentials: { openrouter: { base_url: `${secondary.url}/api/v1` }, ...credentials },
      config,
    });
    gateways.push(gw);
    return gw;
  }

  test('a deployment that never answers is abandoned at its first-byte limit; the next one serves; health counts the failure', { timeout: 20_000 }, async () => {
    primary.reset();
    primary.on('POST', '/v1/chat/completions', never);
    const gw = await gateway({
      routes: {
        [MODEL]: {
          deployments: [
            { provider: 'openai', first_byte_timeout_ms: 150 },
            { provider: 'openrouter', upstream_model: 'openai/gpt-6-luna' },
          ],
        },
      },
    });
    const { data, response } = await gw.openai().chat.completions.create(chat).withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(response.headers.get('x-tollbooth-provider'), 'openrouter');
    assert.equal(response.headers.get('x-tollbooth-attempts'), '2');
    assert.equal(primary.requests.length, 1, 'the hung deployment was tried once');
    const health = gw.gateway.services.health.snapshot().find((d) => d.provider === 'openai');
    assert.equal(health?.requests, 1);
    assert.equal(health?.success_rate, 0, 'the abandoned attempt counts against the deployment');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.provider, 'openrouter');
    assert.equal(record.attempts, 2);
  });

  test('routing.deadline_ms bounds the attempt in flight: a 504, not a wait for the pool timeout', { timeout: 20_000 }, async () => {
    primary.reset();
    primary.on('POST', '/v1/chat/completions', never);
    const gw = await gateway({ routing: { deadline_ms: 300 }, routes: { [MODEL]: { deployments: [{ provider: 'openai' }] } } });
    const err = await apiError(gw.openai().chat.completions.create(chat));
    assert.equal(err.status, 504);
    assert.equal((err.error as { code?: string }).code, 'upstream_timeout');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'upstream_error');
    assert.equal(record.credits, '0', 'nothing was processed: nothing is charged');
  });

  test('a stream that stalls after bytes reached the client ends with an error event at the idle limit (route override)', { timeout: 20_000 }, async () => {
    const gw = await gateway(
      { routes: { [MODEL]: { stream_idle_timeout_ms: 200, deployments: [{ provider: 'openai' }] } } },
      { openai: { base_url: `${stallingUrl}/v1` } },
    );
    const stream = await gw.openai().chat.completions.create({ ...chat, stream: true });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, /ended before the response was complete/);
    assert.ok(text.length > 0, 'what arrived before the stall was delivered');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'truncated');
    assert.equal(record.usage_source, 'estimated');
    assert.ok(Number(record.credits) > 1, 'tokens flowed: the run credit and an estimate are charged');
  });

  test('passthrough: a hung upstream is a 504 at the routing first-byte limit', { timeout: 20_000 }, async () => {
    primary.reset();
    primary.on('POST', '/v1/chat/completions', never);
    const gw = await gateway({ routing: { first_byte_timeout_ms: 200 } });
    const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-6-luna', messages: chat.messages }),
    });
    assert.equal(res.status, 504);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'upstream_timeout');
  });
});
