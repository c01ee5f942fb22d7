/**
 * Malformed request targets (broken percent-escapes, escapes that are not UTF-8, control bytes,
 * absolute-form) are a 400 in each listener's envelope, on every route family, and never take the
 * process down; a handler that throws is answered, never left to crash the listener.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CALLER_KEYS, useGateway, type TestGateway } from '../support/gateway.ts';
import { rawHttp, rawRequest } from '../support/raw-http.ts';

const TARGETS = [
  '/%ff',
  '/%',
  '/%zz',
  '/%e0%80',
  '/%c0%af',
  '/a%2',
  '/v1/models/%ff',
  '/v1/models/%',
  '/v1/chat/completions%zz',
  '/anthropic/v1/models/%ff',
  '/openai/v1/models?x=%zz',
  '/gemini/v1beta/models?key=%ff',
  '/credentials/%ff',
  '/credentials/%/rotate',
  '/wallets/%ff',
  '/healthz?%',
  'http://127.0.0.1/v1/models',
];

describe('malformed request targets', () => {
  let gw: TestGateway;
  useGateway((_upstream, g) => (gw = g));

  test('the proxy listener answers 400 with the OpenAI error envelope', async () => {
    for (const target of TARGETS) {
      for (const method of ['GET', 'POST']) {
        const answer = await rawRequest(gw.url, rawHttp(method, target, { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' }, method === 'POST' ? '{}' : ''));
        assert.equal(answer.status, 400, `${method} ${target}: ${answer.body}`);
        const error = answer.json().error;
        assert.equal(error.code, 'invalid_request_target', `${method} ${target}`);
        assert.equal(error.type, 'invalid_request_error');
        assert.ok(error.message.length < 300, 'the target is quoted capped');
      }
    }
    assert.equal((await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${CALLER_KEYS.member}` } })).status, 200);
  });

  test('the ops listener answers 400 with {detail}, unauthenticated or not, and stays up', async () => {
    for (const target of TARGETS) {
      for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${CALLER_KEYS.owner}`, 'x-organization-id': 'acme' }]) {
        const answer = await rawRequest(gw.opsUrl, rawHttp('GET', target, headers));
        assert.equal(answer.status, 400, `GET ${target}: ${answer.body}`);
        assert.equal(typeof answer.json().detail, 'string');
      }
    }
    const ready = await fetch(`${gw.opsUrl}/readyz`);
    assert.equal(ready.status, 200);
  });

  test('escaped control bytes and long targets are quoted short and printable', async () => {
    const target = `/${'%0a%1b'.repeat(2000)}`;
    const answer = await rawRequest(gw.url, rawHttp('GET', `${target}%zz`));
    assert.equal(answer.status, 400);
    const message: string = answer.json().error.message;
    assert.ok(message.length < 300, message);
    assert.doesNotMatch(message, /[\n\x1b]/);
  });

  test('a request Node cannot parse gets a 400 in the envelope, on both listeners', async () => {
    for (const url of [gw.url, gw.opsUrl]) {
      const answer = await rawRequest(url, 'GET /v1/models HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n');
      assert.equal(answer.status, 400);
      assert.equal(answer.headers['content-type'], 'application/json');
    }
  });
});
