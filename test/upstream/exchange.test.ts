/**
 * The upstream transport on undici's dispatch callbacks (src/upstream/exchange.ts), against a real
 * HTTP server on loopback: whole bodies, chunk order under backpressure, stopping (the server sees
 * the connection go), failures mid-body and a failing consumer.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Upstream } from '../../src/upstream/transport.ts';

const FRAMES = Array.from({ length: 50 }, (_, i) => `frame-${String(i).padStart(2, '0')};`);

describe('upstream exchange (undici dispatch)', () => {
  let server: Server;
  let origin: string;
  let upstream: Upstream;
  const closed: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      res.on('close', () => closed.push(req.url ?? ''));
      if (req.url === '/whole') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(FRAMES.join(''));
      if (req.url === '/frames') return void writeFrames(res, FRAMES, false);
      if (req.url === '/endless') return void writeFrames(res, FRAMES.concat(FRAMES, FRAMES), true);
      if (req.url === '/cut') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(FRAMES[0]);
        res.write(FRAMES[1], () => setTimeout(() => res.socket?.destroy(), 20));
        return;
      }
      res.writeHead(404).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    upstream = new Upstream({ connect_timeout_ms: 2000, headers_timeout_ms: 5000, body_timeout_ms: 5000, keep_alive_timeout_ms: 1000, connections: 4 });
  });
  after(async () => {
    await upstream.close();
    server.closeAllConnections();
    server.close();
  });

  const get = (path: string, signal: AbortSignal | null = null) => upstream.send({ method: 'GET', url: origin + path, headers: {}, body: null }, signal);

  test('bytes(): the whole body, with the status and headers', async () => {
    const response = await get('/whole');
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'text/plain');
    assert.equal((await response.body.bytes()).toString(), FRAMES.join(''));
  });

  test('forEachChunk(): every chunk in order, also when the consumer makes the upstream wait', async () => {
    const response = await get('/frames');
    let text = '';
    let calls = 0;
    let waiting = false;
    let calledWhileWaiting = 0;
    const end = await response.body.forEachChunk((chunk) => {
      if (waiting) calledWhileWaiting++;
      text += chunk.toString();
      // Every third chunk, answer a promise: nothing more is handed over until it settles.
      if (++calls % 3 !== 0) return true;
      waiting = true;
      return new Promise((resolve) =>
        setTimeout(() => {
          waiting = false;
          resolve(true);
        }, 2),
      );
    });
    assert.equal(end, 'end');
    assert.equal(text, FRAMES.join(''));
    assert.ok(calls >= 3, `the body came in ${calls} chunks`);
    assert.equal(calledWhileWaiting, 0, 'no chunk while the consumer was waiting');
  });

  test('onEnd runs once, after the last chunk, before the promise settles', async () => {
    const response = await get('/frames');
    const seen: string[] = [];
    const end = await response.body.forEachChunk(
      (chunk) => {
        seen.push('chunk');
        return chunk.length > 0;
      },
      () => seen.push('end'),
    );
    assert.equal(end, 'end');
    assert.equal(seen.at(-1), 'end');
    assert.equal(seen.filter((s) => s === 'end').length, 1);
  });

  test('a consumer answering false stops reading: the upstream connection is dropped', async () => {
    const response = await get('/endless');
    let chunks = 0;
    const end = await response.body.forEachChunk(() => ++chunks < 3);
    assert.equal(end, 'stopped');
    for (let i = 0; i < 100 && !closed.includes('/endless'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(closed.includes('/endless'), 'the upstream saw its response closed');
  });

  test('an aborted signal before the head rejects with an aborted upstream error', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(get('/whole', controller.signal), (err: Error & { code?: string; details?: Record<string, unknown> }) => {
      assert.equal(err.code, 'upstream_unreachable');
      assert.equal(err.details?.aborted, true);
      return true;
    });
  });

  test('a body cut mid-way rejects, after the chunks received before the cut were handed over', async () => {
    const response = await get('/cut');
    let text = '';
    await assert.rejects(
      response.body.forEachChunk((chunk) => {
        text += chunk.toString();
        return true;
      }),
    );
    assert.equal(text, FRAMES[0]! + FRAMES[1]!);
  });

  test('a consumer that throws gets its error back and the upstream is released', async () => {
    const response = await get('/endless');
    await assert.rejects(
      response.body.forEachChunk(() => {
        throw new Error('translator failed');
      }),
      /translator failed/,
    );
    // The transport still works afterwards.
    assert.equal((await (await get('/whole')).body.bytes()).toString(), FRAMES.join(''));
  });
});

/** Frames written one by one, each after the previous has left; `slow` spaces them out. */
async function writeFrames(res: ServerResponse, frames: string[], slow: boolean): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/plain' });
  for (const frame of frames) {
    if (res.destroyed) return;
    await new Promise<void>((resolve) => res.write(frame, () => resolve()));
    if (slow) await new Promise((r) => setTimeout(r, 5));
  }
  res.end();
}
