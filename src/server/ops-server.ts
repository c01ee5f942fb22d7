/** The ops listener: liveness, readiness, Prometheus metrics and the management API, on its own port. */
import type { Server } from 'node:http';
import { createServer } from '../util/http-server.ts';
import type { AdminRouter } from './admin/router.ts';
import type { Services } from './services.ts';

export interface Readiness {
  /** Name → ready? Every check must pass for /readyz to answer 200. */
  checks(): Record<string, boolean>;
}

export function createOpsServer(services: Services, readiness: Readiness, admin: AdminRouter): Server {
  return createServer(async (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (await admin.handle(services, req, res, path, q === -1 ? '' : url.slice(q + 1))) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: 'method not allowed' }));
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
        const body = await services.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': services.metrics.registry.contentType }).end(body);
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: `no route for ${path}` }));
    }
  });
}
