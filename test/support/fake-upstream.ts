/**
 * A fake provider on 127.0.0.1:0 that replays recorded responses and remembers every request it
 * saw, so tests can check what actually reached "the provider" (key, model, body).
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json(): any;
}

export type Reply =
  | { status?: number; headers?: Record<string, string>; json: unknown }
  | { status?: number; headers?: Record<string, string>; body: string | Buffer }
  /** Streamed frames, written one by one (optionally with a pause), then the end, or a cut. */
  | { status?: number; headers?: Record<string, string>; frames: (string | Buffer)[]; delayMs?: number; cut?: boolean };

type Responder = Reply | ((req: SeenRequest) => Reply | Promise<Reply>);

export class FakeUpstream {
  readonly requests: SeenRequest[] = [];
  readonly #routes: { method: string; path: string | RegExp; reply: Responder }[] = [];
  readonly #server: Server;
  url = '';

  private constructor() {
    // A gateway that gives up on a request mid-body (client gone, a timeout) is not a test failure.
    this.#server = createServer((req, res) => void this.#handle(req, res).catch(() => res.destroy()));
  }

  static async start(): Promise<FakeUpstream> {
    const fake = new FakeUpstream();
    fake.#server.listen(0, '127.0.0.1');
    await once(fake.#server, 'listening');
    fake.url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  /** Adds a route; later routes win, so a test can override a default. */
  on(method: string, path: string | RegExp, reply: Responder): this {
    this.#routes.unshift({ method, path, reply });
    return this;
  }

  last(): SeenRequest {
    const req = this.requests.at(-1);
    if (!req) throw new Error('the fake upstream has seen no request');
    return req;
  }

  reset(): void {
    this.requests.length = 0;
    this.#routes.length = 0;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = req.url ?? '/';
    const body = Buffer.concat(chunks);
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      url,
      path: url.split('?')[0]!,
      headers: req.headers,
      body,
      json: () => JSON.parse(body.toString('utf8')),
    };
    this.requests.push(seen);
    const route = this.#routes.find((r) => r.method === seen.method && (typeof r.path === 'string' ? r.path === seen.path : r.path.test(seen.path)));
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `fake upstream: no route for ${seen.method} ${seen.path}` } }));
      return;
    }
    const reply = typeof route.reply === 'function' ? await route.reply(seen) : route.reply;
    await send(res, reply);
  }
}

async function send(res: ServerResponse, reply: Reply): Promise<void> {
  const status = reply.status ?? 200;
  if ('json' in reply) {
    res.writeHead(status, { 'content-type': 'application/json', ...reply.headers }).end(JSON.stringify(reply.json));
    return;
  }
  if ('body' in reply) {
    res.writeHead(status, { 'content-type': 'application/json', ...reply.headers }).end(reply.body);
    return;
  }
  res.writeHead(status, { 'content-type': 'text/event-stream', ...reply.headers });
  res.flushHeaders();
  for (const frame of reply.frames) {
    // Wait until each frame has left, so a cut that follows cannot swallow it.
    await new Promise<void>((resolve) => res.write(frame, () => resolve()));
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
  }
  if (reply.cut) res.socket?.destroy();
  else res.end();
}
