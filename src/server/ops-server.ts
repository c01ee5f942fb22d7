/** The ops listener: liveness, readiness, Prometheus metrics and the management API, on its own port. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { isGatewayError } from '../errors/catalog.ts';
import { answerClientErrors, createServer, guarded, listenerTimeouts } from '../util/http-server.ts';
import { printable } from '../util/printable.ts';
import type { AdminRouter } from './admin/router.ts';
import { setBodyLimits } from './body.ts';
import { parseRequestTarget } from './request-target.ts';
import type { Services } from './services.ts';

export interface Readiness {
  /** Name → ready? Every check must pass for /readyz to answer 200. */
  checks(): Record<string, boolean>;
}

export function createOpsServer(services: Services, readiness: Readiness, admin: AdminRouter): Server {
  const server = createServer(
    listenerTimeouts(services.runtime.current.config.limits),
    // One catch for the whole listener: a failing route answers `{detail}`, never takes the process down.
    guarded(
      (req, res) => handle(services, readiness, admin, req, res),
      (err, _req, res) => {
        const known = isGatewayError(err) && err.status < 500;
        if (!known) services.log.error({ err }, 'ops endpoint failed');
        detail(res, known ? err.status : 500, known ? err.message : 'internal error');
      },
    ),
  );
  answerClientErrors(server, (_status, _code, message) => JSON.stringify({ detail: message }));
  return server;
}

async function handle(services: Services, readiness: Readiness, admin: AdminRouter, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, query } = parseRequestTarget(req.url);
  setBodyLimits(req, services.runtime.current.config.limits);
  if (await admin.handle(services, req, res, path, query)) return;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    detail(res, 405, 'method not allowed');
    return;
  }
  switch (path) {
    case '/healthz':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    case '/readyz': {
      const checks = readiness.checks();
      const ready = Object.values(checks).every(Boolean);
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ready' : 'not ready', checks }));
      return;
    }
    case '/metrics': {
      const text = await services.metrics.registry.metrics();
      // Prometheus asks for gzip: the exposition shrinks about tenfold.
      const gzip = acceptsGzip(req.headers['accept-encoding']);
      const body = gzip ? await gzipAsync(text) : Buffer.from(text);
      res
        .writeHead(200, {
          'content-type': services.metrics.registry.contentType,
          'content-length': body.length,
          vary: 'Accept-Encoding',
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        })
        .end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    default:
      detail(res, 404, `no route for ${printable(path, 100)}`);
  }
}

const gzipAsync = promisify(gzip);

/** Whether Accept-Encoding lists gzip (or *) with a non-zero quality. */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function detail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ detail: message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
