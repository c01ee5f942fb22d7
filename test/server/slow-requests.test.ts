/**
 * A client that sends its request slowly cannot hold a socket forever: a head that does not arrive
 * within `limits.headers_timeout_ms`, a body that stalls for `limits.body_idle_timeout_ms`, and a
 * request that trickles past `limits.request_timeout_ms` all end in a 408 in the listener's envelope,
 * on both listeners, and the connection is closed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CALLER_KEYS, useGateway, type TestGateway } from '../support/gateway.ts';
import { openSocket, parseRaw, readAll } from '../support/raw-http.ts';

const LIMITS = { headers_timeout_ms: 400, request_timeout_ms: 1500, body_idle_timeout_ms: 300 };

/** Writes `head`, then `chunks` one every `everyMs` until the server closes; returns its answer and how long it took. */
async function slow(url: string, head: string, chunks: string[] = [], everyMs = 100) {
  const socket = await openSocket(url);
  const started = performance.now();
  const answer = readAll(socket, 15_000);
  socket.write(head);
  let i = 0;
  const timer = setInterval(() => {
    if (i < chunks.length && socket.writable) socket.write(chunks[i++]!);
  }, everyMs);
  const text = await answer;
  clearInterval(timer);
  return { ...parseRaw(text), ms: performance.now() - started };
}

const postHead = (path: string, length: number, extra = '') =>
  `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${CALLER_KEYS.owner}\r\nx-organization-id: acme\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n${extra}\r\n`;

describe('slow requests', () => {
  let gw: TestGateway;
  useGateway((_u, g) => (gw = g), { config: { limits: LIMITS } });

  test('a body that stops arriving is a 408 with the OpenAI error envelope (unified and passthrough)', async () => {
    for (const path of ['/v1/chat/completions', '/openai/v1/chat/completions']) {
      const answer = await slow(gw.url, postHead(path, 100) + '{"model":');
      assert.equal(answer.status, 408, `${path}: ${answer.body}`);
      assert.equal(answer.json().error.code, 'request_timeout');
      assert.ok(answer.ms < 5000);
    }
  });

  test('a body that stops arriving is a 408 {detail} on the management API', async () => {
    const answer = await slow(gw.opsUrl, postHead('/credentials/test-temporary', 100) + '{"provider_name":');
    assert.equal(answer.status, 408, answer.body);
    assert.match(answer.json().detail, /stalled/);
  });

  test('a head that never completes is a 408 on both listeners', async () => {
    for (const url of [gw.url, gw.opsUrl]) {
      const answer = await slow(url, 'GET /v1/models HTTP/1.1\r\nhost: x\r\n', ['x-slow: 1\r\n'], 1000);
      assert.equal(answer.status, 408, answer.body);
      assert.equal(answer.headers['content-type'], 'application/json');
      assert.ok(answer.ms < 5000);
    }
  });

  test('a body trickled a byte at a time (never idle) ends at the request timeout with a 408', async () => {
    const chunks = Array.from({ length: 200 }, () => ' ');
    const answer = await slow(gw.url, postHead('/v1/chat/completions', 300), chunks, 50);
    assert.equal(answer.status, 408, answer.body);
    assert.ok(answer.ms >= LIMITS.request_timeout_ms * 0.9 && answer.ms < 6000, String(answer.ms));
  });

  test('the gateway still answers afterwards', async () => {
    assert.equal((await fetch(`${gw.opsUrl}/readyz`)).status, 200);
  });
});
