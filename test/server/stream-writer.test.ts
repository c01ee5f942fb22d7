/**
 * StreamWriter (src/exchange/client-stream.ts): what a streamed response writes in one tick leaves as
 * one chunk; a slow client makes it answer a promise (backpressure) instead of buffering without
 * bound; every byte arrives, in order.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { StreamWriter } from '../../src/exchange/client-stream.ts';

const PIECE = 'x'.repeat(1023) + '\n';
const PIECES = 24_000;

describe('StreamWriter', () => {
  let server: Server;
  let port: number;
  const verdicts = { promises: 0, falses: 0 };

  before(async () => {
    server = createServer(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const writer = new StreamWriter(res);
      if (req.url === '/tick') {
        // Ten writes in one tick: one chunk of the chunked encoding.
        for (let i = 0; i < 10; i++) writer.write(`event-${i};`);
        writer.end('done');
        return;
      }
      for (let i = 0; i < PIECES; i++) {
        const verdict = writer.write(i % 2 === 0 ? PIECE : Buffer.from(PIECE));
        if (verdict === false) return void verdicts.falses++;
        if (verdict !== true) {
          verdicts.promises++;
          if (!(await verdict)) return void verdicts.falses++;
        } else if (i % 100 === 0) {
          await new Promise((r) => setImmediate(r));
        }
      }
      writer.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  test('writes of one tick leave as one chunk, then the end', async () => {
    // The raw bytes, read off a plain socket: the chunk-size lines show how the body was framed.
    const socket = connect(port, '127.0.0.1');
    socket.end('GET /tick HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    let raw = '';
    socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
    await once(socket, 'close');
    const body = 'event-0;event-1;event-2;event-3;event-4;event-5;event-6;event-7;event-8;event-9;';
    assert.ok(raw.includes(`\r\n${body.length.toString(16)}\r\n${body}\r\n`), 'the ten writes are one chunk');
    assert.ok(raw.endsWith('\r\n4\r\ndone\r\n0\r\n\r\n'), 'then the tail, then the end');
  });

  test('a slow client gets backpressure (a promise), and every byte in order', async () => {
    const received = await new Promise<string>((resolve, reject) => {
      request({ port, path: '/long', host: '127.0.0.1' }, (res) => {
        const parts: Buffer[] = [];
        res.pause();
        // Read nothing for a while: the server's socket buffer fills up.
        setTimeout(() => {
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve(Buffer.concat(parts).toString()));
          res.resume();
        }, 300);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(received.length, PIECE.length * PIECES);
    assert.equal(received, PIECE.repeat(PIECES));
    assert.ok(verdicts.promises > 0, 'the writer made the producer wait at least once');
    assert.equal(verdicts.falses, 0);
  });
});
