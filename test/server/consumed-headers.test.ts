/**
 * What Tollbooth consumes never reaches the upstream, on every path (unified, through the Anthropic
 * translation too; passthrough; audio uploads; key verification): the caller's key in any header or
 * `?key=`, X-Organization-ID, every Proxy-* header, and the hop-by-hop headers (Connection and the
 * headers it names, Keep-Alive, TE, Trailer, Upgrade). The upstream sees only its own credential.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixtureJson } from '../support/fixtures.ts';
import type { FakeUpstream, SeenRequest } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, useGateway, type TestGateway } from '../support/gateway.ts';
import { rawHttp, rawRequest } from '../support/raw-http.ts';

const HOSTILE: Record<string, string> = {
  'x-api-key': CALLER_KEYS.owner,
  'x-goog-api-key': CALLER_KEYS.owner,
  'api-key': CALLER_KEYS.owner,
  'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
  'proxy-connection': 'keep-alive',
  'proxy-x-custom': 'proxy-secret',
  'x-organization-id': 'acme',
  connection: 'x-hop-secret, keep-alive',
  'x-hop-secret': 'hop-secret',
  'keep-alive': 'timeout=99',
  te: 'trailers',
  trailer: 'x-trailer-secret',
  upgrade: 'h2c',
};

/** The caller's values, none of which may show up upstream. */
const LEAKS = [CALLER_KEYS.owner, CALLER_KEYS.member, 'cHJveHk6c2VjcmV0', 'proxy-secret', 'hop-secret', 'timeout=99', 'x-trailer-secret', 'h2c', 'trailers'];

function assertClean(seen: SeenRequest | undefined, provider: string, keyHeader: string, keyValue: string): void {
  assert.ok(seen, 'the request reached the upstream');
  for (const name of ['proxy-authorization', 'proxy-connection', 'proxy-x-custom', 'x-organization-id', 'x-hop-secret', 'keep-alive', 'te', 'trailer', 'upgrade']) {
    assert.equal(seen.headers[name], undefined, `${provider}: ${name} was forwarded`);
  }
  for (const name of ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key']) {
    if (name !== keyHeader) assert.equal(seen.headers[name], undefined, `${provider}: ${name} was forwarded`);
  }
  assert.equal(seen.headers[keyHeader], keyValue, `${provider}: the upstream gets its own key`);
  const all = JSON.stringify(seen.headers) + seen.url;
  for (const leak of LEAKS) assert.ok(!all.includes(leak), `${provider}: '${leak}' reached the upstream: ${all}`);
}

describe('headers Tollbooth consumes', () => {
  let gw: TestGateway;
  let upstream: FakeUpstream;
  useGateway((u, g) => {
    upstream = u;
    gw = g;
    u.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    u.on('POST', '/v1/audio/transcriptions', { json: fixtureJson('openai/openai-transcription.json') });
    u.on('GET', '/v1/models', { json: { object: 'list', data: [] } });
  });

  const send = (url: string, method: string, path: string, headers: Record<string, string>, body = '') =>
    rawRequest(url, rawHttp(method, path, { ...HOSTILE, ...headers }, body));

  test('unified chat (OpenAI wire and the Anthropic translation)', async () => {
    for (const [model, provider, path, header, value] of [
      ['gpt-4.1-nano', 'openai', '/v1/chat/completions', 'authorization', `Bearer ${providerKey('openai')}`],
      ['claude-sonnet-5.5', 'anthropic', '/v1/messages', 'x-api-key', providerKey('anthropic')],
    ] as const) {
      const body = JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      await send(gw.url, 'POST', '/v1/chat/completions?key=' + CALLER_KEYS.owner, { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' }, body);
      assertClean(upstream.requests.findLast((r) => r.path === path), provider, header, value);
    }
  });

  test('native passthrough (JSON bodies, and ?key= never forwarded)', async () => {
    for (const [provider, path, header, value] of [
      ['openai', '/v1/models', 'authorization', `Bearer ${providerKey('openai')}`],
      ['anthropic', '/v1/models', 'x-api-key', providerKey('anthropic')],
      ['gemini', '/v1beta/models', 'x-goog-api-key', providerKey('gemini')],
    ] as const) {
      const seen = upstream.requests.length;
      const answer = await send(gw.url, 'GET', `/${provider}${path}?key=${CALLER_KEYS.member}&alt=sse`, { authorization: `Bearer ${CALLER_KEYS.member}` });
      assert.notEqual(answer.status, 0);
      assert.equal(upstream.requests.length, seen + 1, provider);
      assertClean(upstream.last(), provider, header, value);
      assert.equal(upstream.last().url, `${path}?alt=sse`);
    }
  });

  test('audio uploads (multipart, relayed)', async () => {
    const boundary = 'tollboothboundary';
    const body = [
      `--${boundary}\r\ncontent-disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n`,
      `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.wav"\r\ncontent-type: audio/wav\r\n\r\nRIFF....WAVEfmt \r\n`,
      `--${boundary}--\r\n`,
    ].join('');
    const answer = await send(gw.url, 'POST', '/v1/audio/transcriptions', { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, body);
    assert.equal(answer.status, 200, answer.body);
    assertClean(upstream.requests.findLast((r) => r.path === '/v1/audio/transcriptions'), 'openai', 'authorization', `Bearer ${providerKey('openai')}`);
  });

  test('key verification (test-temporary)', async () => {
    const candidate = 'sk-candidate-for-header-test';
    const body = JSON.stringify({ provider_name: 'openai', auth_data: { api_key: candidate } });
    const answer = await send(gw.opsUrl, 'POST', '/credentials/test-temporary', { authorization: `Bearer ${CALLER_KEYS.owner}`, 'content-type': 'application/json' }, body);
    assert.equal(answer.status, 200, answer.body);
    assertClean(upstream.requests.findLast((r) => r.path === '/v1/models' && r.headers.authorization === `Bearer ${candidate}`), 'verification', 'authorization', `Bearer ${candidate}`);
  });
});
