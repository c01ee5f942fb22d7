/**
 * Errors never echo caller input or upstream bodies unbounded: an upstream's huge error text, a
 * caller's long path or broken JSON come back capped (and control characters escaped); and a handler
 * that throws, synchronously or not, is answered instead of taking the listener down.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { guarded, createServer } from '../../src/util/http-server.ts';
import { CALLER_KEYS, useGateway, type TestGateway } from '../support/gateway.ts';
import type { FakeUpstream } from '../support/fake-upstream.ts';
import { rawHttp, rawRequest } from '../support/raw-http.ts';

describe('bounded error messages', () => {
  let gw: TestGateway;
  let upstream: FakeUpstream;
  useGateway((u, g) => {
    upstream = u;
    gw = g;
  });
  const chat = (body: string) =>
    fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' }, body });

  test("an upstream's huge error message reaches a unified caller capped", async () => {
    upstream.on('POST', '/v1/chat/completions', { status: 400, json: { error: { message: 'x'.repeat(200_000), type: 'invalid_request_error' } } });
    const res = await chat(JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'hi' }] }));
    const text = await res.text();
    assert.equal(res.status, 400);
    assert.ok(text.length < 5000, `${text.length} characters`);
  });

  test('broken JSON and long paths are quoted short and printable', async () => {
    const res = await chat(`{"model": "${'\u001b[31m'.repeat(20_000)}`);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 'invalid_json');
    assert.ok(body.error.message.length < 400, body.error.message);
    assert.doesNotMatch(body.error.message, /\u001b/);
    const long = await rawRequest(gw.url, rawHttp('GET', `/anthropic/v1/${'a'.repeat(10_000)}`, { authorization: `Bearer ${CALLER_KEYS.member}` }));
    assert.equal(long.status, 404);
    assert.ok(long.json().error.message.length < 600);
  });
});

describe('a throwing handler', () => {
  test('is answered with a 500, thrown or rejected, and the server goes on', async () => {
    let calls = 0;
    const server = createServer(
      guarded(
        (req) => {
          calls++;
          if (req.url === '/sync') throw new Error('sync');
          return Promise.reject(new Error('async'));
        },
        (_err, _req, res) => res.writeHead(500).end('handled'),
      ),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const path of ['/sync', '/async', '/sync']) {
      const res = await fetch(url + path);
      assert.equal(res.status, 500);
      assert.equal(await res.text(), 'handled');
    }
    assert.equal(calls, 3);
    server.close();
  });
});
