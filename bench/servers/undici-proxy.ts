/**
 * Baseline: the barest useful proxy on undici. node:http in, one undici Pool to the upstream, the
 * request body piped up and the response piped back (`pool.stream`). No auth, no parsing.
 * Usage: node undici-proxy.ts <upstream origin>
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { serve } from './serve.ts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'proxy-connection', 'upgrade', 'te', 'trailer']);
const pool = new Pool(process.argv[2]!, { connections: 128, keepAliveTimeout: 60_000 });

const server = createServer((req, res) => {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool
    .stream(
      { path: req.url ?? '/', method: req.method as 'POST', headers: strip(req.headers), body: hasBody ? req : null },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, strip(headers as IncomingHttpHeaders));
        return res;
      },
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
});

function strip(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

await serve(server);
