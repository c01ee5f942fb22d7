/**
 * `npm run bench:outage`. Part 1 (issue 5's figure): one of two providers fully down, 200
 * requests/s for a fixed time through Tollbooth's unified API, every answer counted; then the cost of
 * routing: the same route with the dead provider first vs. a route with only the healthy one, p50 at
 * one connection, and routing's own work per request measured in process. Part 2 (issue 19): routing
 * that recovers — the first deployment fails at a scripted error rate that changes over time (an
 * outage then a normal 2%, a steady 27%, a relapse), with the default breaker policy, and the share of
 * the traffic each deployment got is printed per 10 s. Everything runs on 127.0.0.1 and every
 * process it starts is stopped at the end. OUTAGE_PART=outage|recovery runs one part only.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { freePort, ProcessGroup, waitForHttp } from './processes.ts';
import { loadConfig } from '../src/config/load.ts';
import { buildRuntime } from '../src/runtime/runtime.ts';
import { planTargets } from '../src/routing/plan.ts';
import { RoutingHealth } from '../src/routing/routing-health.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const KEY = 'tb-bench-outage-key';
const MODEL = 'gpt-6-luna';
const RATE = Number(process.env.OUTAGE_RPS ?? 200);
const SECONDS = Number(process.env.OUTAGE_SECONDS ?? 20);
const PART = process.env.OUTAGE_PART ?? 'all';
const BUCKET_S = 10;
const answer = readFileSync(join(ROOT, 'test/fixtures/providers/openai/openai-text.json'));

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

function drain(req: IncomingMessage, then: () => void): void {
  req.resume();
  req.on('end', then);
}

const reply503 = (res: import('node:http').ServerResponse) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"down"}}');
const reply200 = (res: import('node:http').ServerResponse) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer);

interface Sidecar {
  url: string;
  opsUrl: string;
  request(model: string): { url: string; method: 'POST'; headers: Record<string, string>; body: string };
  metrics(): Promise<string>;
}

/** Starts Tollbooth (bin/tollbooth, as production does) with MODEL routed to `first`, then `second` (OpenRouter). */
async function startSidecar(group: ProcessGroup, dir: string, first: string, second: string): Promise<Sidecar> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const config = {
    listeners: { proxy: { host: '127.0.0.1', port }, ops: { host: '127.0.0.1', port: opsPort } },
    catalog: join(ROOT, 'config/catalog'),
    ledger: { dir: join(dir, 'data') },
    orgs: [{ id: 'bench' }],
    keys: [{ id: 'bench', org: 'bench', hash: `sha256:${createHash('sha256').update(KEY).digest('hex')}` }],
    credentials: [
      { id: 'openai', provider: 'openai', billing: 'managed', secret: { env: 'OUTAGE_KEY' }, base_url: `${first}/v1` },
      { id: 'openrouter', provider: 'openrouter', billing: 'managed', secret: { env: 'OUTAGE_KEY' }, base_url: `${second}/api/v1` },
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
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  await waitForHttp(`${opsUrl}/readyz`, child);
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  return {
    url,
    opsUrl,
    request: (model) => ({
      url,
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }] }),
    }),
    metrics: async () => (await fetch(`${opsUrl}/metrics`)).text(),
  };
}

async function main(): Promise<void> {
  const group = new ProcessGroup((line) => process.stderr.write(`[outage] ${line}\n`));
  const lines: string[] = [];
  let failed = false;
  try {
    if (PART !== 'recovery') failed = (await outageFigures(group, lines)) || failed;
    if (PART !== 'outage') {
      for (const scenario of SCENARIOS) failed = (await recoveryScenario(group, scenario, lines)) || failed;
    }
  } finally {
    await group.stopAll();
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (failed) process.exitCode = 1;
}

/** Part 1: one provider fully down. Returns whether the caller saw a failure. */
async function outageFigures(group: ProcessGroup, lines: string[]): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-outage-'));
  const down = await listen((req, res) => drain(req, () => reply503(res)));
  const healthy = await listen((req, res) => drain(req, () => reply200(res)));
  try {
    const sidecar = await startSidecar(group, dir, down.url, healthy.url);
    const outage = await autocannon({ ...sidecar.request(MODEL), connections: 20, overallRate: RATE, duration: SECONDS });
    const metrics = await sidecar.metrics();
    const attemptsOnDead = Number(/tollbooth_fallbacks_total\{from_provider="openai",to_provider="openrouter",model="gpt-6-luna"\} (\d+)/.exec(metrics)?.[1] ?? 0);

    // Sequential requests, alternating the two routes, timed in µs.
    const times: Record<string, number[]> = { [MODEL]: [], 'gpt-6.2-sol': [] };
    for (let i = 0; i < 4000; i++) {
      const r = sidecar.request(i % 2 === 0 ? MODEL : 'gpt-6.2-sol');
      const started = performance.now();
      const res = await fetch(r.url, { method: 'POST', headers: r.headers, body: r.body });
      await res.arrayBuffer();
      if (i >= 400) times[JSON.parse(r.body).model]!.push((performance.now() - started) * 1000);
    }
    const p50 = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0);

    const routingUs = routingCostMicros();
    lines.push(
      `outage: ${RATE} req/s for ${SECONDS} s, provider 1 of 2 answering 503 to everything`,
      `  requests ${outage.requests.total}, 2xx ${outage['2xx']}, non-2xx ${outage.non2xx}, errors ${outage.errors}, timeouts ${outage.timeouts}`,
      `  requests that tried the dead provider first (before its breaker opened): ${attemptsOnDead}`,
      `  latency p50 ${outage.latency.p50} ms, p99 ${outage.latency.p99} ms`,
      `routing cost, sequential requests after the breaker opened: p50 ${p50(times[MODEL]!)} µs with the dead provider first in the route vs ${p50(times['gpt-6.2-sol']!)} µs with the healthy one alone`,
      `routing work per request in process (plan + choose + observe): ${routingUs.toFixed(2)} µs`,
    );
    return outage.non2xx + outage.errors + outage.timeouts > 0;
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

// ---- Part 2: recovery scenarios (issue 19) ----

interface Phase {
  seconds: number;
  /** Share of the first deployment's answers that are 503s (each one drawn at random). */
  errorRate: number;
}

interface Scenario {
  name: string;
  phases: Phase[];
}

const SCENARIOS: Scenario[] = [
  { name: 'outage, then back to a normal 2% error rate', phases: [{ seconds: 10, errorRate: 1 }, { seconds: 60, errorRate: 0.02 }] },
  { name: 'a steady 27% error rate (failure_ratio 0.5)', phases: [{ seconds: 60, errorRate: 0.27 }] },
  {
    name: 'outage, a recovery that relapses to 60% errors, then 2%',
    phases: [{ seconds: 10, errorRate: 1 }, { seconds: 40, errorRate: 0.6 }, { seconds: 100, errorRate: 0.02 }],
  },
];

/** A small seeded generator (mulberry32), so a run's error sequence can be replayed. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One scenario through a fresh sidecar at RATE: arrivals at both upstreams are counted per second
 * since the load started; the breaker's state is sampled from /metrics every 250 ms.
 */
async function recoveryScenario(group: ProcessGroup, scenario: Scenario, lines: string[]): Promise<boolean> {
  const total = scenario.phases.reduce((s, p) => s + p.seconds, 0);
  const perSecond = () => Array.from({ length: total + 5 }, () => 0);
  const got = { primary: perSecond(), primaryOk: perSecond(), fallback: perSecond() };
  let t0 = Infinity;
  const second = () => Math.max(0, Math.floor((performance.now() - t0) / 1000));
  const errorRate = () => {
    let at = (performance.now() - t0) / 1000;
    for (const p of scenario.phases) {
      if (at < p.seconds) return p.errorRate;
      at -= p.seconds;
    }
    return scenario.phases.at(-1)!.errorRate;
  };
  const random = seeded(19);
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-recovery-'));
  const primary = await listen((req, res) =>
    drain(req, () => {
      const s = second();
      got.primary[s]!++;
      if (random() < errorRate()) return reply503(res);
      got.primaryOk[s]!++;
      reply200(res);
    }),
  );
  const fallback = await listen((req, res) =>
    drain(req, () => {
      got.fallback[second()]!++;
      reply200(res);
    }),
  );
  try {
    const sidecar = await startSidecar(group, dir, primary.url, fallback.url);
    const timeline: string[] = [];
    let last = '';
    const sample = async () => {
      const state = /tollbooth_breaker_state\{provider="openai",model="gpt-6-luna"[^}]*\} (\d)/.exec(await sidecar.metrics())?.[1];
      const name = ({ 0: 'closed', 1: 'half-open', 2: 'open' } as Record<string, string>)[state ?? ''] ?? 'unseen';
      if (name !== last) timeline.push(`${((performance.now() - t0) / 1000).toFixed(1)} s ${name}`);
      last = name;
    };
    t0 = performance.now();
    const poll = setInterval(() => void sample(), 250);
    const load = await autocannon({ ...sidecar.request(MODEL), connections: 20, overallRate: RATE, duration: total });
    clearInterval(poll);
    const metrics = await sidecar.metrics();
    const transitions = [...metrics.matchAll(/tollbooth_breaker_transitions_total\{provider="openai",model="gpt-6-luna",[^}]*from="(\w+)",to="(\w+)"\} (\d+)/g)].map(
      ([, from, to, n]) => `${from}→${to} ${n}`,
    );

    const phases = scenario.phases.map((p) => `${p.errorRate * 100}% errors for ${p.seconds} s`).join(', then ');
    lines.push('', `recovery: ${scenario.name} — ${phases}; ${RATE} req/s, default breaker policy`);
    lines.push(`  requests ${load.requests.total}, 2xx ${load['2xx']}, non-2xx ${load.non2xx}, errors ${load.errors}, timeouts ${load.timeouts}`);
    lines.push('    window     requests   openai got  openai served  openrouter got');
    const sum = (xs: number[], from: number) => xs.slice(from, from + BUCKET_S).reduce((a, b) => a + b, 0);
    const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(1)}%`.padStart(12);
    for (let from = 0; from < total; from += BUCKET_S) {
      // Every caller request is answered once: by the first deployment (2xx) or by the fallback.
      const requests = sum(got.primaryOk, from) + sum(got.fallback, from);
      const window = `${from}-${from + BUCKET_S} s`.padStart(11);
      lines.push(`  ${window} ${String(requests).padStart(10)} ${pct(sum(got.primary, from), requests)} ${pct(sum(got.primaryOk, from), requests)} ${pct(sum(got.fallback, from), requests)}`);
    }
    // The first second from which openai got (nearly) every request to the end.
    const full = got.primary.slice(0, total).findIndex((_, s) => got.primary.slice(s, total).every((n, i) => n >= 0.97 * (got.primaryOk[s + i]! + got.fallback[s + i]!)));
    lines.push(`  breaker (sampled every 250 ms): ${timeline.join(', ')}`);
    lines.push(`  transitions: ${transitions.join(', ') || 'none'}; openai got ≥97% of each second's requests from ${full === -1 ? 'never' : `${full} s`} on`);
    return load.non2xx + load.errors + load.timeouts > 0;
  } finally {
    await group.stopAll();
    primary.server.close();
    fallback.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
