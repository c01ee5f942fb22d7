/**
 * Native passthrough for OpenAI-compatible vendors: the official openai SDK pointed at
 * /<provider>/… gets the provider's bytes unchanged; only the credential is swapped, and usage is
 * read from the response on the way.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { activeCopy } from '../support/catalog.ts';
import { chunkLines, fixtureJson, fixtureText, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../support/gateway.ts';

describe('native passthrough for OpenAI-compatible vendors', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const sdk = (path: string, key: string = CALLER_KEYS.member) => new OpenAI({ apiKey: key, baseURL: `${gw.url}${path}`, maxRetries: 0 });

  // dall-e-3 is retired in the catalog: an active copy meters what the images passthrough serves.
  useGateway((u, g) => ((upstream = u), (gw = g)), { config: { models: [activeCopy('dall-e-3', 'dall-e-3-live')] } });

  test('a non-streamed chat goes through byte for byte, with the managed key and usage metered', async () => {
    upstream.reset();
    const recorded = fixtureText('openai/openai-text.json');
    upstream.on('POST', '/v1/chat/completions', { body: recorded });
    const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json', 'openai-beta': 'x' },
      body: JSON.stringify({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 9 }),
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), recorded, 'the body reaches the caller unchanged');
    const seen = upstream.last();
    assert.equal(seen.headers.authorization, `Bearer ${providerKey('openai')}`);
    assert.equal(seen.headers['openai-beta'], 'x', 'other headers pass through');
    assert.deepEqual(seen.json(), { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 9 }, 'the request body is untouched');
    const record = (await gw.usage()).at(-1)!;
    const usage = JSON.parse(recorded).usage;
    assert.equal(record.api, 'native');
    assert.equal(record.model, 'gpt-5-nano', 'the catalog model the provider name maps to');
    assert.equal(record.prompt_tokens, usage.prompt_tokens);
    assert.equal(record.completion_tokens, usage.completion_tokens);
  });

  test('the openai SDK streams through /openai/v1 and gets every recorded chunk', async () => {
    upstream.reset();
    const lines = chunkLines('openai/openai-text.chunks.txt');
    upstream.on('POST', '/v1/chat/completions', { frames: sseFrames(lines, { done: true }) });
    const stream = await sdk('/openai/v1').chat.completions.create({
      model: 'gpt-5-nano',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const received: unknown[] = [];
    for await (const chunk of stream) received.push(chunk);
    assert.deepEqual(received, lines.map((l) => JSON.parse(l)), 'every chunk, obfuscation padding included, unchanged');
    const record = (await gw.usage()).at(-1)!;
    const usage = JSON.parse(lines.at(-1)!).usage;
    assert.equal(record.stream, true);
    assert.equal(record.prompt_tokens, usage.prompt_tokens);
    assert.equal(record.completion_tokens, usage.completion_tokens);
    assert.equal(record.usage_source, 'reported');
  });

  test('Groq’s SDK path (/groq/openai/v1) works and x_groq usage is metered', async () => {
    upstream.reset();
    const lines = chunkLines('groq/groq-tool-call.chunks.txt');
    upstream.on('POST', '/openai/v1/chat/completions', { frames: sseFrames(lines, { done: true }) });
    const stream = await sdk('/groq/openai/v1').chat.completions.create({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let args = '';
    for await (const chunk of stream) args += chunk.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
    assert.equal(args, '{}');
    assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('groq')}`);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.provider, 'groq');
    assert.equal(record.prompt_tokens, 210);
    assert.equal(record.completion_tokens, 15);
  });

  test('a streamed passthrough without usage is metered from an estimate and says so', async () => {
    upstream.reset();
    const lines = chunkLines('openai/openai-text.chunks.txt').slice(0, -1);
    upstream.on('POST', '/v1/chat/completions', { frames: sseFrames(lines, { done: true }) });
    const stream = await sdk('/openai/v1').chat.completions.create({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.usage_source, 'estimated');
    assert.equal(record.completion_tokens, Math.ceil(text.length / 4));
  });

  test('DALL·E images through /openai/v1 are priced by the size and quality the request asked for', async () => {
    upstream.reset();
    const recorded = fixtureText('openai/openai-image.json');
    upstream.on('POST', '/v1/images/generations', { body: recorded, headers: { 'content-type': 'application/json' } });
    const sdk = new OpenAI({ apiKey: CALLER_KEYS.member, baseURL: `${gw.url}/openai/v1`, maxRetries: 0, defaultHeaders: { 'x-request-id': 'native-dall-e' } });
    const result = await sdk.images.generate({ model: 'dall-e-3', prompt: 'A baby sea otter', size: '1024x1792', quality: 'hd', n: 2 });
    assert.deepEqual(result.data?.map((d) => d.b64_json), JSON.parse(recorded).data.map((d: any) => d.b64_json));
    assert.deepEqual(upstream.last().json(), { model: 'dall-e-3', prompt: 'A baby sea otter', size: '1024x1792', quality: 'hd', n: 2 }, 'the request body is untouched');
    const charge = (await gw.usage()).find((c) => c.request_id === 'native-dall-e')!;
    assert.equal(charge.api, 'native');
    assert.equal(charge.model, 'dall-e-3-live');
    assert.deepEqual(charge.bill?.usage, { 'image:1024x1792:hd': 2 });
    assert.ok(Math.abs(Number(charge.credits) - (1 + 2 * 0.12 * 1050)) < 1e-9, charge.credits);
  });

  test('a model listing through /openai/v1 is recorded as its own operation, models, at 0 credits', async () => {
    upstream.reset();
    // The documented list shape: no models-list recording exists (fixtures SOURCES.md, known gaps).
    const list = { object: 'list', data: [{ id: 'gpt-5-nano', object: 'model', created: 1754425777, owned_by: 'system' }] };
    upstream.on('GET', '/v1/models', { json: list });
    const before = (await gw.usage()).length;
    const sdk = new OpenAI({ apiKey: CALLER_KEYS.member, baseURL: `${gw.url}/openai/v1`, maxRetries: 0, defaultHeaders: { 'x-request-id': 'native-models' } });
    const page = await sdk.models.list();
    assert.deepEqual(page.data.map((m) => m.id), ['gpt-5-nano']);
    assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('openai')}`);
    const charges = await gw.usage();
    assert.equal(charges.length, before + 1, 'one ledger entry');
    const charge = charges.at(-1)!;
    assert.equal(charge.request_id, 'native-models');
    assert.deepEqual([charge.api, charge.operation, charge.status, charge.credits], ['native', 'models', 200, '0']);
    assert.equal(charge.bill, undefined, 'nothing was billed');
  });

  test('upstream errors keep their native body and status', async () => {
    upstream.reset();
    const body = fixtureText('openai/openai-error.1.json');
    upstream.on('POST', '/v1/chat/completions', { status: 429, headers: { 'retry-after': '7' }, body });
    const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-5-nano', messages: [] }),
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '7');
    assert.equal(await res.text(), body);
  });

  test('paths outside the provider’s inference list are refused before any upstream call', async () => {
    upstream.reset();
    for (const path of ['/openai/v1/organization/costs', '/openai/v1/files', '/openai/v2/chat/completions', '/openai/v1/chat/completions/../../admin']) {
      const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${CALLER_KEYS.member}` } });
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as any).error.code, 'passthrough_path_not_allowed');
    }
    assert.equal(upstream.requests.length, 0);
  });

  test('the caller’s key, in any header, never reaches the upstream; a bad key is refused', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/embeddings', { json: fixtureJson('openai/openai-embedding.json') });
    for (const header of ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key']) {
      const value = header === 'authorization' ? `Bearer ${CALLER_KEYS.member}` : CALLER_KEYS.member;
      const res = await fetch(`${gw.url}/openai/v1/embeddings`, {
        method: 'POST',
        headers: { [header]: value, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hi' }),
      });
      assert.equal(res.status, 200, header);
    }
    for (const seen of upstream.requests) {
      assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member));
      assert.equal(seen.headers.authorization, `Bearer ${providerKey('openai')}`);
    }
    const bad = await fetch(`${gw.url}/openai/v1/embeddings`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: '{}' });
    assert.equal(bad.status, 401);
    assert.equal(upstream.requests.length, 4);
  });
});
