/**
 * Baseline: a bare http-proxy-3 reverse proxy with a keep-alive agent to the upstream.
 * Usage: node http-proxy-3-proxy.ts <upstream origin>
 */
import { Agent, createServer } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { serve } from './serve.ts';

const proxy = createProxyServer({ target: process.argv[2]!, agent: new Agent({ keepAlive: true, maxSockets: 128 }) });
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
  else res.destroy();
});

await serve(createServer((req, res) => proxy.web(req, res)));
