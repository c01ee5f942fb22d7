/** The ops listener: liveness, readiness and Prometheus metrics, on its own port. */
import { createServer, type Server } from 'node:http';
import type { Services } from './services.ts';

export interface Readiness {
  /** Name → ready? Every check must pass for /readyz to answer 200. */
  checks(): Record<string, boolean>;
}

export function createOpsServer(services: Services, readiness: Readiness): Server {
  return createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
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
