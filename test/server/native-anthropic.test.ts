/**
 * Native Anthropic passthrough: the official @anthropic-ai/sdk, unmodified but for its base URL
 * (<sidecar>/anthropic) and a Tollbooth key, gets Anthropic's bytes unchanged; Tollbooth swaps in
 * the managed x-api-key and reads usage from the response on the way.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { chunkLines, fixtureJson, fixtureText } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../support/gateway.ts';
import { anthropicFrames, fromEvents, fromMessage } from '../providers/anthropic/recordings.ts';

const MESSAGES = '/v1/messages';
const request = { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hello' }] };

describe('native passthrough for Anthropic (@anthropic-ai/sdk)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const sdk = (auth: { apiKey: string } | { authToken: string }) => new Anthropic({ baseURL: `${gw.url}/anthropic`, maxRetries: 0, ...auth });

  useGateway((u, g) => ((upstream = u), (gw = g)));

  function assertManagedKeyOnly() {
    const seen = upstream.last();
    assert.equal(seen.path, MESSAGES);
    assert.equal(seen.headers['x-api-key'], providerKey('anthropic'));
    assert.equal(seen.headers.authorization, undefined, "the caller's bearer header is stripped");
    assert.match(String(seen.headers['anthropic-version']), /^\d{4}-\d{2}-\d{2}$/, 'the SDK’s own anthropic-version goes through');
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller key never reaches the upstream');
  }

  test('messages.create with apiKey: the recorded message, the managed key upstream, usage metered', async () => {
    upstream.reset();
    upstream.on('POST', MESSAGES, { body: fixtureText('anthropic/anthropic-text.json') });
    const expected = fromMessage('anthropic/anthropic-text.json');

    const message = await sdk({ apiKey: CALLER_KEYS.member }).messages.create(request);
    assert.deepEqual(message, fixtureJson('anthropic/anthropic-text.json'));
    assertManagedKeyOnly();
    assert.deepEqual(upstream.last().json(), request, 'the request body is untouched');

    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.api, 'native');
    assert.equal(record.provider, 'anthropic');
    assert.equal(record.model, 'claude-sonnet-4.6', 'the catalog model the upstream name maps to');
    assert.equal(record.prompt_tokens, expected.prompt);
    assert.equal(record.completion_tokens, expected.completion);
    assert.equal(record.usage_source, 'reported');
  });

  test('an x-api-key caller gets the recorded body byte for byte', async () => {
    upstream.reset();
    const recorded = fixtureText('anthropic/anthropic-json-tool.1.json');
    upstream.on('POST', MESSAGES, { body: recorded });
    const sent = JSON.stringify({ ...request, tools: [{ name: 'json', input_schema: { type: 'object' } }] });
    const res = await fetch(`${gw.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': CALLER_KEYS.member, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: sent,
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), recorded);
    assertManagedKeyOnly();
    assert.equal(upstream.last().body.toString('utf8'), sent, 'the request bytes are untouched');
    const expected = fromMessage('anthropic/anthropic-json-tool.1.json');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.prompt_tokens, expected.prompt);
    assert.equal(record.completion_tokens, expected.completion);
  });

  test('streamed with authToken: every recorded event reaches the SDK, usage from the latest counts', async () => {
    upstream.reset();
    const path = 'anthropic/anthropic-message-delta-input-tokens.chunks.txt';
    upstream.on('POST', MESSAGES, { frames: anthropicFrames(path) });
    const expected = fromEvents(path);

    const stream = await sdk({ authToken: CALLER_KEYS.member }).messages.create({ ...request, stream: true });
    const events: unknown[] = [];
    for await (const event of stream) events.push(event);
    const recorded = chunkLines(path).map((l) => JSON.parse(l));
    assert.deepEqual(events, recorded.filter((e) => e.type !== 'ping'), 'every event (the SDK itself drops pings)');
    assertManagedKeyOnly();

    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.stream, true);
    assert.equal(record.outcome, 'ok');
    assert.equal(record.prompt_tokens, expected.prompt, 'message_delta restated the input count: the latest wins');
    assert.equal(record.completion_tokens, expected.completion);
  });

  test('the SDK stream helper reassembles text and thinking from the untouched stream', async () => {
    upstream.reset();
    const path = 'anthropic/anthropic-clear-thinking.1.chunks.txt';
    upstream.on('POST', MESSAGES, { frames: anthropicFrames(path) });
    const expected = fromEvents(path);
    const final = await sdk({ apiKey: CALLER_KEYS.member }).messages.stream({ ...request, thinking: { type: 'enabled', budget_tokens: 1024 }, max_tokens: 2048 }).finalMessage();
    const text = final.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    const thinking = final.content.filter((b) => b.type === 'thinking').map((b) => b.thinking).join('');
    assert.equal(text, expected.text);
    assert.equal(thinking, expected.thinking);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.prompt_tokens, expected.prompt);
    assert.equal(record.completion_tokens, expected.completion);
  });

  test('a raw streamed response is byte-identical to what Anthropic sent', async () => {
    upstream.reset();
    const frames = anthropicFrames('anthropic/anthropic-tool-no-args.chunks.txt');
    upstream.on('POST', MESSAGES, { frames });
    const res = await fetch(`${gw.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...request, stream: true }),
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(await res.text(), frames.join(''));
    assert.equal(upstream.last().headers['anthropic-version'], '2023-06-01', 'a caller without one gets the catalog’s anthropic-version');
    assert.equal(upstream.last().headers['x-api-key'], providerKey('anthropic'));
  });

  test('an error event inside the 200 stream reaches the SDK as an error and is recorded as one', async () => {
    upstream.reset();
    const overloaded = (fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors as any[]).find((e) => e.provider === 'anthropic' && e.status === 529).body;
    const frames = anthropicFrames('anthropic/anthropic-text.chunks.txt').slice(0, 4);
    frames.push(`event: error\ndata: ${JSON.stringify(overloaded)}\n\n`);
    upstream.on('POST', MESSAGES, { frames });

    const stream = await sdk({ apiKey: CALLER_KEYS.member }).messages.create({ ...request, stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, /Overloaded/);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'stream_error');
    assert.equal(record.prompt_tokens, fromEvents('anthropic/anthropic-text.chunks.txt').prompt);
  });

  test('token counting is forwarded but not metered as tokens (no recording exists: hand-written body)', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/messages/count_tokens', { json: { input_tokens: 14 } });
    const counted = await sdk({ apiKey: CALLER_KEYS.member }).messages.countTokens({ model: request.model, messages: request.messages });
    assert.equal(counted.input_tokens, 14);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.prompt_tokens, 0, 'Anthropic does not bill count_tokens');
    assert.equal(record.completion_tokens, 0);
    assert.deepEqual([record.operation, record.credits], ['count_tokens', '0'], 'recorded as a token count, like the unified one');
  });

  test('a wrong Tollbooth key is refused before anything reaches Anthropic', async () => {
    upstream.reset();
    await assert.rejects(sdk({ apiKey: 'not-a-tollbooth-key' }).messages.create(request), (err: InstanceType<typeof Anthropic.APIError>) => err.status === 401);
    assert.equal(upstream.requests.length, 0);
  });
});
