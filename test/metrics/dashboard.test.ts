/**
 * The Grafana dashboard shipped in the chart (charts/tollbooth/files/dashboard.json): every PromQL
 * expression names metrics the running sidecar exposes on /metrics, with labels those metrics
 * carry, and the panels it promises exist (traffic, errors, latency, TTFT, tokens, credits by
 * org/model, gateway overhead, provider health and fallbacks, admission denials, config reloads,
 * credential rotations, ledger append latency).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { parseMetrics } from '../support/prometheus.ts';

const dashboard = JSON.parse(readFileSync(new URL('../../charts/tollbooth/files/dashboard.json', import.meta.url), 'utf8'));

interface Query {
  where: string;
  expr: string;
  legend: string;
}

const panels: any[] = dashboard.panels.filter((p: any) => p.type !== 'row');
const queries: Query[] = [
  ...panels.flatMap((p) => p.targets.map((t: any) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr as string, legend: (t.legendFormat ?? '') as string }))),
  ...dashboard.templating.list
    .filter((v: any) => v.type === 'query')
    .map((v: any) => ({ where: `variable $${v.name}`, expr: v.query.query as string, legend: '' })),
];

/** Labels Prometheus attaches to every scraped series (target labels), plus a histogram's `le`. */
const TARGET_LABELS = new Set(['namespace', 'pod', 'container', 'job', 'instance', 'le']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset']);

/** The metric names an expression selects: identifiers that are not functions, keywords, labels or numbers. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/label_values\(([^,]+),[^)]*\)/g, '$1');
  return [...bare.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()/g)].map((m) => m[1]!).filter((w) => !PROMQL_WORDS.has(w));
}

/** Every label an expression or its legend names: matchers, by/without clauses, label_values, {{label}}. */
function labelNames(query: Query): string[] {
  const names: string[] = [];
  for (const [, body] of query.expr.matchAll(/\{([^}]*)\}/g)) {
    names.push(...[...body!.replace(/"(?:[^"\\]|\\.)*"/g, '""').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!));
  }
  for (const [, list] of query.expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) names.push(...list!.split(',').map((s) => s.trim()).filter(Boolean));
  for (const [, label] of query.expr.matchAll(/label_values\([^,]+,\s*(\w+)\s*\)/g)) names.push(label!);
  for (const [, label] of query.legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)) names.push(label!);
  return names;
}

describe('the Grafana dashboard', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let exposed: Map<string, string>;
  const labelsOf = new Map<string, Set<string>>();

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', (req) =>
      req.json().stream
        ? { frames: sseFrames(chunkLines('openai/openai-text.chunks.txt'), { done: true }) }
        : { json: fixtureJson('openai/openai-text.json') },
    );
    gw = await startTestGateway({ upstream });
    const client = gw.openai();
    await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hello' }] });
    const stream = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hello' }], stream: true });
    for await (const _chunk of stream);

    // Name → type, from the exposition's TYPE lines; histograms expose _bucket, _sum and _count.
    const text = await gw.metrics();
    exposed = new Map();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exposed.set(name!, type!);
      if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) exposed.set(name! + s, `${type} series`);
    }
    for (const metric of await gw.gateway.services.metrics.registry.getMetricsAsArray()) {
      const labels = new Set<string>((metric as unknown as { labelNames: string[] }).labelNames ?? []);
      for (const suffix of ['', '_bucket', '_sum', '_count']) labelsOf.set(metric.name + suffix, labels);
    }
    // The one request left labelled series behind for the core panels.
    const samples = parseMetrics(text);
    for (const name of ['tollbooth_requests_total', 'gen_ai_client_operation_duration_seconds_bucket', 'gen_ai_client_operation_time_to_first_chunk_seconds_bucket', 'gen_ai_client_token_usage_sum', 'tollbooth_credits_charged_total', 'tollbooth_gateway_overhead_seconds_bucket']) {
      assert.ok(samples.some((s) => s.name === name && Object.keys(s.labels).length > 0), `${name} has labelled samples after one request`);
    }
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('has a ${datasource} variable that every panel and query uses', () => {
    const ds = dashboard.templating.list.find((v: any) => v.name === 'datasource');
    assert.equal(ds?.type, 'datasource');
    assert.equal(ds?.query, 'prometheus');
    for (const p of panels) {
      assert.equal(p.datasource.uid, '${datasource}', p.title);
      for (const t of p.targets) assert.equal(t.datasource.uid, '${datasource}', `${p.title} ${t.refId}`);
    }
    for (const v of dashboard.templating.list.filter((x: any) => x.type === 'query')) assert.equal(v.datasource.uid, '${datasource}');
  });

  test('every PromQL expression names only metrics the sidecar exposes', () => {
    assert.ok(queries.length > 30);
    const missing: string[] = [];
    for (const q of queries) {
      const names = metricNames(q.expr);
      assert.ok(names.length > 0 || q.expr.includes('time()'), `${q.where} names a metric: ${q.expr}`);
      for (const name of names) if (!exposed.has(name)) missing.push(`${q.where}: ${name}`);
    }
    assert.deepEqual(missing, []);
  });

  test('every label a query filters, groups or prints by is a label of the metrics it reads', () => {
    const wrong: string[] = [];
    for (const q of queries) {
      const available = new Set(TARGET_LABELS);
      for (const name of metricNames(q.expr)) for (const l of labelsOf.get(name) ?? []) available.add(l);
      for (const label of labelNames(q)) if (!available.has(label)) wrong.push(`${q.where}: ${label}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('covers what an operator looks for', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const name of [
      'tollbooth_requests_total',
      'gen_ai_client_operation_duration_seconds_bucket',
      'gen_ai_client_operation_time_to_first_chunk_seconds_bucket',
      'gen_ai_client_token_usage_sum',
      'tollbooth_credits_charged_total',
      'tollbooth_gateway_overhead_seconds_bucket',
      'tollbooth_provider_success_ratio',
      'tollbooth_fallbacks_total',
      'tollbooth_admission_denials_total',
      'tollbooth_config_reloads_total',
      'tollbooth_credential_rotations_total',
      'tollbooth_ledger_append_seconds_bucket',
    ]) {
      assert.ok(metricNames(all).includes(name), `the dashboard reads ${name}`);
    }
    // Process and Node.js panels read prom-client's standard names, as stock dashboards do.
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.ok(metricNames(all).includes(name), `the dashboard reads ${name}`);
    }
    assert.match(all, /sum by \(gen_ai_request_model, gen_ai_response_model\)/, 'requested vs serving model');
    assert.match(all, /sum by \(gen_ai_token_type\)/, 'tokens by type');
    assert.match(all, /sum by \(org\) \(rate\(tollbooth_credits_charged_total/, 'credits by org');
    assert.match(all, /sum by \(provider, model\) \(rate\(tollbooth_credits_charged_total/, 'credits by model');
  });

  test('every Tollbooth and GenAI metric the sidecar exposes has a panel', () => {
    const read = new Set(queries.flatMap((q) => metricNames(q.expr)).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    const families = [...exposed.entries()].filter(([name, type]) => !type.endsWith(' series') && /^(tollbooth|gen_ai)_/.test(name));
    const shown = (name: string) => read.has(name) || read.has(name.replace(/_total$/, ''));
    assert.deepEqual(
      families.filter(([name]) => !shown(name)).map(([name]) => name),
      [],
      'add a panel for it in charts/tollbooth/files/dashboard.json',
    );
  });

  test('panels have unique ids and sit on the grid', () => {
    const ids = dashboard.panels.map((p: any) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of dashboard.panels) {
      assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits in 24 columns`);
    }
  });

  test('the extractor finds metric names and skips functions, keywords, labels and numbers', () => {
    assert.deepEqual(
      metricNames('histogram_quantile(0.95, sum by (le, provider) (rate(a_b_bucket{x="y"}[$__rate_interval]))) / clamp_min(sum(rate(c_total[5m])), 1e-9) and on (pod) d'),
      ['a_b_bucket', 'c_total', 'd'],
    );
    assert.deepEqual(labelNames({ where: '', expr: 'sum by (a, b) (m{c=~"x", d!=""})', legend: '{{e}}' }).sort(), ['a', 'b', 'c', 'd', 'e']);
  });
});
