/**
 * JSON nested deeper than `limits.max_json_depth` is refused with a 400 in the route's envelope
 * before any work: nothing reaches the upstream, no charge is written. Every place a caller can nest
 * (message content, metadata, a tool schema, response_format; the Anthropic translation; native
 * passthrough; the management API) is covered, and JSON at the limit still goes through.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, useGateway, type TestGateway } from '../support/gateway.ts';
import type { FakeUpstream } from '../support/fake-upstream.ts';

const DEEP = 50_000;
const nested = (levels: number, leaf: unknown = 'x'): string => '['.repeat(levels) + JSON.stringify(leaf) + ']'.repeat(levels);
const nestedObject = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

/** A chat body with `deep` spliced in at one place a caller controls. */
function chatWith(model: string, where: 'content' | 'metadata' | 'tool' | 'response_format', deep: string): string {
  const marker = '"__DEEP__"';
  const body: Record<string, unknown> = { model, messages: [{ role: 'user', content: 'hi' }] };
  if (where === 'content') body.messages = [{ role: 'user', content: [{ type: 'text', text: 'hi', extra: '__DEEP__' }] }];
  if (where === 'metadata') body.metadata = { note: '__DEEP__' };
  if (where === 'tool') body.tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { p: '__DEEP__' } } } }];
  if (where === 'response_format') body.response_format = { type: 'json_schema', json_schema: { name: 's', schema: '__DEEP__' } };
  return JSON.stringify(body).replace(marker, deep);
}

describe('deeply nested JSON', () => {
  let gw: TestGateway;
  let upstream: FakeUpstream;
  useGateway((u, g) => {
    upstream = u;
    gw = g;
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(gw.url + path, { method: 'POST', headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json', ...headers }, body });

  test('the unified API refuses it with a 400 OpenAI error, everywhere a caller can nest, before any upstream call', async () => {
    const seen = upstream.requests.length;
    for (const model of ['gpt-4.1-nano', 'claude-sonnet-5.5']) {
      for (const where of ['content', 'metadata', 'tool', 'response_format'] as const) {
        for (const deep of [nested(DEEP), nestedObject(DEEP)]) {
          const res = await post('/v1/chat/completions', chatWith(model, where, deep));
          const body = (await res.json()) as any;
          assert.equal(res.status, 400, `${model} ${where}: ${JSON.stringify(body).slice(0, 200)}`);
          assert.equal(body.error.code, 'json_too_deep');
          assert.equal(body.error.type, 'invalid_request_error');
        }
      }
    }
    for (const path of ['/v1/embeddings', '/v1/images/generations']) {
      const res = await post(path, JSON.stringify({ model: 'gpt-4.1-nano', input: 'x', user: '__D__' }).replace('"__D__"', nested(DEEP)));
      assert.equal(res.status, 400, path);
      assert.equal(((await res.json()) as any).error.code, 'json_too_deep');
    }
    assert.equal(upstream.requests.length, seen, 'nothing reached the upstream');
    assert.equal((await gw.usage()).length, 0, 'nothing was charged');
  });

  test('native passthrough refuses it too (the body is read to learn the model)', async () => {
    const seen = upstream.requests.length;
    const body = JSON.stringify({ model: 'claude-sonnet-5.5', max_tokens: 5, messages: [{ role: 'user', content: '__D__' }] }).replace('"__D__"', nested(DEEP));
    const res = await post('/anthropic/v1/messages', body, { 'x-api-key': CALLER_KEYS.member, 'anthropic-version': '2023-06-01' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as any).error.code, 'json_too_deep');
    assert.equal(upstream.requests.length, seen);
  });

  test('the management API refuses it with {detail}', async () => {
    const res = await fetch(`${gw.opsUrl}/credentials/test-temporary`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme', 'content-type': 'application/json' },
      body: JSON.stringify({ provider_name: 'openai', auth_data: '__D__' }).replace('"__D__"', nested(DEEP)),
    });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as any).detail, /deeper than the limit of 128/);
  });

  test('nesting at the limit, and brackets inside strings, still go through', async () => {
    const res = await post('/v1/chat/completions', chatWith('gpt-4.1-nano', 'metadata', JSON.stringify({ s: '['.repeat(5000) + '{'.repeat(5000), d: JSON.parse(nested(120)) })));
    assert.equal(res.status, 200, await res.clone().text());
  });
});

describe('deeply nested JSON: the limit is configurable', () => {
  let gw: TestGateway;
  useGateway((u, g) => {
    gw = g;
    u.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
  }, { config: { limits: { max_json_depth: 16 } } });

  test('limits.max_json_depth: 16 refuses 17 levels and takes 16', async () => {
    const send = (levels: number) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
        // The body object itself is one level, metadata a second.
        body: chatWith('gpt-4.1-nano', 'metadata', nested(levels - 2)),
      });
    assert.equal((await send(17)).status, 400);
    assert.equal((await send(16)).status, 200);
  });
});
