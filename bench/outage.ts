/**
 * `npm run bench:outage` (issue 5's figure): one of two providers fully down, 200 requests/s for a
 * fixed time through Tollbooth's unified API, every answer counted. Then the cost of routing: the
 * same route with the dead provider first vs. a route with only the healthy one, p50 at one
 * connection, and routing's own work per request measured in process. Everything runs on
 * 127.0.0.1 and every process it starts is stopped at the end.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { freePort, ProcessGroup, waitForHttp } from './processes.ts';
import { loadConfig } from '../src/config/load.ts';
import { buildRuntime } from '../src/config/runtime.ts';
import { planTargets } from '../src/routing/plan.ts';
import { RoutingHealth } from '../src/routing/routing-health.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const KEY = 'tb-bench-outage-key';
const MODEL = 'gpt-6-luna';
const RATE = Number(process.env.OUTAGE_RPS ?? 200);
const SECONDS = Number(process.env.OUTAGE_SECONDS ?? 20);
const answer = readFileSync(join(ROOT, 'test/fixtures/providers/openai/openai-text.json'));

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

function drain(req: import('node:http').IncomingMessage, then: () => void): void {
  req.resume();
  req.on('end', then);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-outage-'));
  const group = new ProcessGroup((line) => process.stderr.write(`[outage] ${line}\n`));
  const down = await listen((req, res) => drain(req, () => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"down"}}')));
  const healthy = await listen((req, res) => drain(req, () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer)));
  try {
    const [port, opsPort] = [await freePort(), await freePort()];
    const config = {
      listeners: { proxy: { host: '127.0.0.1', port }, ops: { host: '127.0.0.1', port: opsPort } },
      catalog: join(ROOT, 'config/catalog'),
      ledger: { dir: join(dir, 'data') },
      orgs: [{ id: 'bench' }],
      keys: [{ id: 'bench', org: 'bench', hash: `sha256:${createHash('sha256').update(KEY).digest('hex')}` }],
      credentials: [
        { id: 'openai', provider: 'openai', billing: 'managed', secret: { env: 'OUTAGE_KEY' }, base_url: `${down.url}/v1` },
        { id: 'openrouter', provider: 'openrouter', billing: 'managed', secret: { env: 'OUTAGE_KEY' }, base_url: `${healthy.url}/api/v1` },
      ],
      routes: {
        [MODEL]: { deployments: [{ provider: 'openai' }, { provider: 'openrouter', upstream_model: 'openai/gpt-6-luna' }] },
        'gpt-6.2-sol': { deployments: [{ provider: 'openrouter', upstream_model: 'openai/gpt-6.2-sol' }] },
      },
      log: { level: 'warn' },
    };
    const file = join(dir, 'tollbooth.yaml');
    writeFileSync(file, stringify(config));
    const child = group.spawn('tollbooth', join(ROOT, 'bin/tollbooth'), ['serve', '--config', file], { cwd: ROOT, env: { ...process.env, OUTAGE_KEY: 'sk-outage' } });
    await waitForHttp(`http://127.0.0.1:${opsPort}/readyz`, child);
    const url = `http://127.0.0.1:${port}/v1/chat/completions`;
    const request = (model: string) => ({
      url,
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }] }),
    });

    const outage = await autocannon({ ...request(MODEL), connections: 20, overallRate: RATE, duration: SECONDS });
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    const attemptsOnDead = Number(/tollbooth_fallbacks_total\{from_provider="openai",to_provider="openrouter",model="gpt-6-luna"\} (\d+)/.exec(metrics)?.[1] ?? 0);

    // Sequential requests, alternating the two routes, timed in µs.
    const times: Record<string, number[]> = { [MODEL]: [], 'gpt-6.2-sol': [] };
    for (let i = 0; i < 4000; i++) {
      const r = request(i % 2 === 0 ? MODEL : 'gpt-6.2-sol');
      const started = performance.now();
      const res = await fetch(r.url, { method: 'POST', headers: r.headers, body: r.body });
      await res.arrayBuffer();
      if (i >= 400) times[JSON.parse(r.body).model]!.push((performance.now() - started) * 1000);
    }
    const p50 = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0);

    const routingUs = routingCostMicros();
    const lines = [
      `outage: ${RATE} req/s for ${SECONDS} s, provider 1 of 2 answering 503 to everything`,
      `  requests ${outage.requests.total}, 2xx ${outage['2xx']}, non-2xx ${outage.non2xx}, errors ${outage.errors}, timeouts ${outage.timeouts}`,
      `  requests that tried the dead provider first (before its breaker opened): ${attemptsOnDead}`,
      `  latency p50 ${outage.latency.p50} ms, p99 ${outage.latency.p99} ms`,
      `routing cost, sequential requests after the breaker opened: p50 ${p50(times[MODEL]!)} µs with the dead provider first in the route vs ${p50(times['gpt-6.2-sol']!)} µs with the healthy one alone`,
      `routing work per request in process (plan + choose + observe): ${routingUs.toFixed(2)} µs`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (outage.non2xx + outage.errors + outage.timeouts > 0) process.exitCode = 1;
  } finally {
    await group.stopAll();
    down.server.close();
    healthy.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** planTargets + RoutingHealth.choose + observe on the default config, averaged over many calls. */
function routingCostMicros(): number {
  const runtime = buildRuntime(loadConfig(join(ROOT, 'config/tollbooth.yaml')), { OPENAI_API_KEY: 'x', OPENROUTER_API_KEY: 'y' });
  const health = new RoutingHealth(runtime.config.routing);
  const model = runtime.catalog.resolve(MODEL).model;
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const { usable } = health.choose(planTargets(runtime.routing, model), 'priority');
      health.observe(usable[0]!, { status: 200, latencyMs: 1, ttfbMs: 1 });
    }
  };
  run(20_000);
  const n = 200_000;
  const started = performance.now();
  run(n);
  return ((performance.now() - started) * 1000) / n;
}

await main();
