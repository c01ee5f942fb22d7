/**
 * Bad input and upstream failures: each gets an OpenAI-shaped error with the right status and a
 * stable Tollbooth code, as the openai SDK reports it; nothing crashes the sidecar, nothing is
 * recorded for requests that never reached an upstream.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway, useGateway } from '../support/gateway.ts';
import { apiError } from '../support/expect.ts';

const transcribed = fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors as {
  provider: string;
  status: number;
  body: unknown;
}[];
const reported = (provider: string, status: number) => transcribed.find((e) => e.provider === provider && e.status === status)!;

const chat = { model: 'gpt-5-nano', messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('errors on the unified API', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  useGateway((u, g) => ((upstream = u), (gw = g)), {
    config: {
      limits: { max_body_bytes: 4096 },
      upstream: { headers_timeout_ms: 300, connect_timeout_ms: 300 },
      // These tests fail the same deployment on purpose, one after another: keep breakers and
      // credential cool-downs out of the way (test/routing covers them).
      routing: { breaker: { min_requests: 1000 }, credential_cooldown_ms: 0 },
    },
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json', ...headers },
      body,
    });

  test('bad JSON is a 400 invalid_json', async () => {
    const res = await post('{"model": ');
    assert.equal(res.status, 400);
    const body: any = await res.json();
    assert.equal(body.error.code, 'invalid_json');
    assert.equal(body.error.type, 'invalid_request_error');
  });

  test('a missing messages array is a 400 naming the param', async () => {
    const err = await apiError(gw.openai().chat.completions.create({ model: 'gpt-5-nano' } as never));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'invalid_request');
    assert.equal(err.param, 'messages');
  });

  test('an unknown model is a 404 model_not_found', async () => {
    const err = await apiError(gw.openai().chat.completions.create({ ...chat, model: 'no-such-model' }));
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
  });

  test('no key is a 401, a wrong key is a 401, a wrong org is a 403', async () => {
    const none = await post(JSON.stringify(chat), { authorization: '' });
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as any).error.code, 'missing_api_key');
    const wrong = await apiError(gw.openai('tb-not-a-key').chat.completions.create(chat));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.code, 'invalid_api_key');
    const org = await apiError(gw.openai(CALLER_KEYS.member, { organization: null, defaultHeaders: { 'X-Organization-ID': 'globex' } }).chat.completions.create(chat));
    assert.equal(org.status, 403);
    assert.equal(org.code, 'org_mismatch');
  });

  test('a body over the limit is a 413, and the sidecar keeps serving', async () => {
    const res = await post(JSON.stringify({ ...chat, messages: [{ role: 'user', content: 'x'.repeat(10_000) }] }));
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as any).error.code, 'body_too_large');
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    const ok = await gw.openai().chat.completions.create(chat);
    assert.ok(ok.choices[0]!.message.content);
  });

  test('an upstream 429 stays a 429 with its Retry-After and message', async () => {
    upstream.reset();
    const body = fixtureJson('openai/openai-error.1.json');
    upstream.on('POST', '/v1/chat/completions', { status: 429, headers: { 'retry-after': '20' }, json: body });
    // Its own gateway: the provider's Retry-After holds the deployment back for 20 s afterwards.
    const gw = await startTestGateway({ upstream });
    after(() => gw.close());
    const err = await apiError(gw.openai().chat.completions.create(chat));
    assert.equal(err.status, 429);
    assert.equal(err.headers?.get('retry-after'), '20');
    assert.equal(err.message.replace(/^429 /, ''), body.error.message);
    assert.equal(err.code, 'upstream_rate_limited');
    assert.equal((err.error as any).upstream_code, 'insufficient_quota');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.status, 429);
    assert.equal(record.outcome, 'upstream_error');
    assert.equal(record.credits, '0', 'a failed call costs nothing');
  });

  test('an upstream 400 keeps its status, message and param', async () => {
    upstream.reset();
    const body = fixtureJson('openai/reasoning-model-legacy-parameter-error.json');
    upstream.on('POST', '/v1/chat/completions', { status: 400, json: body });
    const err = await apiError(gw.openai().chat.completions.create(chat));
    assert.equal(err.status, 400);
    assert.equal(err.message.replace(/^400 /, ''), body.error.message);
    assert.equal(err.code, 'upstream_invalid_request');
  });

  test('vendor error shapes (Mistral {message}, xAI flat {code,error}, Groq 429) keep status and message', async () => {
    for (const [provider, status, path, model] of [
      ['mistral', 401, '/v1/chat/completions', 'mistral-small-latest'],
      ['xai', 400, '/v1/chat/completions', 'grok-4.3'],
      ['groq', 429, '/openai/v1/chat/completions', 'groq/gpt-oss-120b'],
    ] as const) {
      upstream.reset();
      const report = reported(provider, status);
      upstream.on('POST', path, { status, json: report.body });
      const err = await apiError(gw.openai().chat.completions.create({ ...chat, model }));
      if (status === 401) {
        assert.equal(err.status, 502, 'a provider refusing Tollbooth’s key is a bad gateway, not the caller’s 401');
        assert.equal(err.code, 'upstream_auth_failed');
      } else {
        assert.equal(err.status, status);
        const text = JSON.stringify(report.body);
        assert.ok(text.includes(err.message.replace(/^\d+ /, '').slice(0, 20)) || decodeURIComponent(text).includes(err.message.replace(/^\d+ /, '').slice(0, 20)), `${provider}: ${err.message}`);
      }
    }
  });

  test('an upstream 401 never shows the provider text that quotes the managed key', async () => {
    upstream.reset();
    const key = providerKey('openai');
    upstream.on('POST', '/v1/chat/completions', {
      status: 401,
      json: { error: { message: `Incorrect API key provided: ${key}.`, type: 'invalid_request_error', code: 'invalid_api_key' } },
    });
    const res = await post(JSON.stringify(chat));
    const text = await res.text();
    assert.equal(res.status, 502);
    assert.ok(!text.includes(key), 'the managed key is not in the error');
    assert.equal(JSON.parse(text).error.code, 'upstream_auth_failed');
  });

  test('a 200 whose body is not a JSON object (an HTML page from a proxy) is a 502, not a garbled answer', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { body: '<html><body>502 Bad Gateway</body></html>', headers: { 'content-type': 'text/html' } });
    const err = await apiError(gw.openai().chat.completions.create(chat));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_bad_response');
  });

  test('an upstream that does not answer in time is a 504, one that is down is a 502', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', async () => {
      await new Promise((r) => setTimeout(r, 2500));
      return { json: fixtureJson('openai/openai-text.json') };
    });
    const slow = await apiError(gw.openai().chat.completions.create(chat));
    assert.equal(slow.status, 504);
    assert.equal(slow.code, 'upstream_timeout');

    const down = await startTestGateway({ upstream, credentials: { openai: { base_url: 'http://127.0.0.1:9/v1' } } });
    try {
      const err = await apiError(down.openai().chat.completions.create(chat));
      assert.equal(err.status, 502);
      assert.equal(err.code, 'upstream_unreachable');
    } finally {
      await down.close();
    }
  });

  test('an error event inside a 200 stream (Groq) reaches the SDK as an error', async () => {
    upstream.reset();
    const lines = chunkLines('groq/groq-text.chunks.txt').slice(0, 5);
    const frames = [...sseFrames(lines), `event: error\ndata: ${JSON.stringify({ error: { message: 'Service Unavailable', type: 'internal_server_error' } })}\n\n`];
    upstream.on('POST', '/openai/v1/chat/completions', { frames });
    const stream = await gw.openai().chat.completions.create({ ...chat, model: 'groq/gpt-oss-120b', stream: true });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, /Service Unavailable/);
    assert.ok(text.length > 0, 'what came before the error was delivered');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'stream_error');
  });

  test('a stream cut before its end never looks like a clean end, and is metered from an estimate', async () => {
    upstream.reset();
    const lines = chunkLines('openai/openai-text.chunks.txt').slice(0, 40);
    upstream.on('POST', '/v1/chat/completions', { frames: sseFrames(lines), cut: true });
    const stream = await gw.openai().chat.completions.create({ ...chat, stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, /ended before the response was complete/);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'truncated');
    assert.equal(record.usage_source, 'estimated');
    const seenText = lines.map((l) => JSON.parse(l).choices[0]?.delta?.content ?? '').join('');
    assert.equal(record.completion_tokens, Math.ceil(seenText.length / 4), 'estimated from the text seen');
    assert.ok(Number(record.credits) > 1, 'what was consumed is charged');
  });

  test('requests that never reached an upstream leave no usage record', async () => {
    const before = (await gw.usage()).length;
    await post('not json');
    await apiError(gw.openai().chat.completions.create({ ...chat, model: 'no-such-model' }));
    assert.equal((await gw.usage()).length, before);
  });

  test('the caller’s key is in no response header, and the sidecar is still healthy', async () => {
    const res = await post('{}');
    assert.ok(!JSON.stringify([...res.headers]).includes(CALLER_KEYS.member));
    assert.equal((await fetch(`${gw.opsUrl}/healthz`)).status, 200);
  });
});
