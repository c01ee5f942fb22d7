/**
 * Upstream answers that are 200 but not answers, and answers too large to hold. Unified: a 502 in
 * the OpenAI envelope, counted as the upstream's failure (health, fallback), charged nothing (no
 * token was processed). Passthrough: the bytes go to the caller unchanged, charged per the money
 * rule; a large body streams through, tapped only within a bounded window.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { apiError } from '../support/expect.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson, fixtureText } from '../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';

const MODEL = 'gpt-6-luna';
const chat = { model: MODEL, messages: [{ role: 'user' as const, content: 'Hi' }] };
/** The 429 body OpenAI sends (transcribed in _transcribed/error-bodies-from-public-reports.json), here with a 200. */
const OPENAI_ERROR = { error: { message: 'Rate limit reached for gpt-4 on tokens per min (TPM).', type: 'tokens', param: null, code: 'rate_limit_exceeded' } };
/** Anthropic's overloaded body (same source), with a 200. */
const ANTHROPIC_ERROR = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
const LIMIT = 64 * 1024;

describe('2xx answers that are not answers, and answers past the body limit', () => {
  let primary: FakeUpstream;
  let secondary: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    primary = await FakeUpstream.start();
    secondary = await FakeUpstream.start();
    gw = await startTestGateway({
      upstream: primary,
      credentials: { openrouter: { base_url: `${secondary.url}/api/v1` } },
      config: {
        limits: { max_upstream_body_bytes: LIMIT },
        // Every case here is an upstream failure of the same deployment: the breaker stays out of it.
        routing: { breaker: { min_requests: 1000 } },
        routes: { 'gpt-6.2-sol': { deployments: [{ provider: 'openai' }, { provider: 'openrouter', upstream_model: 'openai/gpt-6.2-sol' }] } },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await primary.close();
    await secondary.close();
  });

  for (const [name, body] of [
    ['not JSON (an HTML page)', '<html><body>502 Bad Gateway</body></html>'],
    ['truncated JSON', fixtureText('openai/openai-text.json').slice(0, 200)],
    ['an error object', JSON.stringify(OPENAI_ERROR)],
    ['only braces around garbage', '{ this is not JSON, only its first and last bytes are }'],
  ] as const) {
    test(`unified: a 200 that is ${name} is a 502 in the envelope, charged nothing`, async () => {
      primary.reset();
      primary.on('POST', '/v1/chat/completions', { body });
      const err = await apiError(gw.openai().chat.completions.create(chat));
      assert.equal(err.status, 502);
      assert.match(String((err.error as { code?: string }).code), /^upstream_(bad_response|error)$/);
      const record = (await gw.usage()).at(-1)!;
      assert.equal(record.outcome, 'upstream_error');
      assert.equal(record.credits, '0');
    });
  }

  test('unified: a 200 error object counts against the deployment and falls back to the next', async () => {
    primary.reset();
    secondary.reset();
    primary.on('POST', '/v1/chat/completions', { json: OPENAI_ERROR });
    secondary.on('POST', '/api/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    const { response } = await gw.openai().chat.completions.create({ ...chat, model: 'gpt-6.2-sol' }).withResponse();
    assert.equal(response.headers.get('x-tollbooth-provider'), 'openrouter');
    assert.equal(response.headers.get('x-tollbooth-attempts'), '2');
    const health = gw.gateway.services.health.snapshot().find((d) => d.provider === 'openai' && d.model === 'gpt-6.2-sol');
    assert.equal(health?.success_rate, 0, 'the 200 error counted as the upstream failing');
  });

  test('unified over Anthropic: a 200 {"type":"error"} is a 502', async () => {
    primary.reset();
    primary.on('POST', '/v1/messages', { json: ANTHROPIC_ERROR });
    const err = await apiError(gw.openai().chat.completions.create({ ...chat, model: 'claude-sonnet-4.6' }));
    assert.equal(err.status, 502);
    assert.match(err.message, /Overloaded/);
    assert.equal((await gw.usage()).at(-1)!.credits, '0');
  });

  test('passthrough: a 200 error object reaches the SDK unchanged and is charged nothing', async () => {
    primary.reset();
    primary.on('POST', '/v1/messages', { json: ANTHROPIC_ERROR });
    const res = await fetch(`${gw.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': CALLER_KEYS.member, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), ANTHROPIC_ERROR, 'the bytes go through unchanged');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.api, 'native');
    assert.equal(record.outcome, 'stream_error');
    assert.equal(record.credits, '0', 'no token was processed');
  });

  test('unified: an answer past limits.max_upstream_body_bytes is a 502, not buffered', async () => {
    primary.reset();
    const answer = fixtureJson('openai/openai-text.json');
    answer.choices[0].message.content = 'x'.repeat(4 * LIMIT);
    primary.on('POST', '/v1/chat/completions', { json: answer });
    const err = await apiError(gw.openai().chat.completions.create(chat));
    assert.equal(err.status, 502);
    assert.equal((err.error as { code?: string }).code, 'upstream_response_too_large');
  });

  test('unified: a stream event that never ends is cut at the limit with an error event, charged nothing', async () => {
    primary.reset();
    const endless = `data: {"id":"chatcmpl-x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${'z'.repeat(4 * LIMIT)}`;
    primary.on('POST', '/v1/chat/completions', { frames: [endless] });
    const stream = await gw.openai().chat.completions.create({ ...chat, stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, /grew past the limit/);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'truncated');
    assert.equal(record.credits, '0', 'no token reached the client');
  });

  test('passthrough: a stream event past the window goes through unchanged; the tap stops reading it', async () => {
    primary.reset();
    const endless = `data: {"id":"chatcmpl-x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${'z'.repeat(4 * LIMIT)}`;
    primary.on('POST', '/v1/chat/completions', { frames: [endless] });
    const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...chat, stream: true }),
    });
    assert.equal(await res.text(), endless, 'every byte, unchanged');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.api, 'native');
    assert.equal(record.outcome, 'truncated', 'the stream never ended its event');
  });

  test('passthrough: a body past the limit streams through unchanged; usage beyond the tap window is estimated', async () => {
    primary.reset();
    const message = fixtureJson('anthropic/anthropic-text.json');
    message.content[0].text = 'y'.repeat(4 * LIMIT);
    const sent = JSON.stringify(message);
    primary.on('POST', '/v1/messages', { body: sent });
    const sdk = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: CALLER_KEYS.member, maxRetries: 0 });
    const got = await sdk.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] });
    assert.deepEqual(got, message, 'every byte arrived');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'ok');
    assert.equal(record.usage_source, 'estimated', 'the tap kept only its window, not the whole body');
    assert.ok(Number(record.credits) > 1);
  });
});
