/**
 * The chart's alerts (charts/tollbooth/files/alerts.yaml), evaluated by `promtool test rules` over
 * series a real sidecar exported (issue 17, item 7).
 *
 * A sidecar runs against a fake upstream through two phases: healthy traffic, then an incident (a
 * provider failing a third of its calls, another failing all of them until its breaker opens, a
 * config reload rejected). Its /metrics is scraped after each batch of traffic and each scrape
 * becomes one minute of input series, with the target labels Prometheus adds (namespace, pod).
 * Every alert must stay quiet over the healthy phase and fire, with the labels an operator routes
 * on, in the incident. Conditions a test cannot cause in a process (a slow disk, a failed write, a
 * store outage, an org's balance near zero) are applied to the real series of those metrics: same
 * names and labels, incident values. An alert whose metric the sidecar does not export yet is
 * skipped, saying which metric is missing.
 *
 * promtool comes with Debian's `prometheus` package (`apt-get install prometheus`); without it the
 * promtool tests skip and say so, and the static checks still run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { parseMetrics, type Sample } from '../support/prometheus.ts';

const RULES = new URL('../../charts/tollbooth/files/alerts.yaml', import.meta.url).pathname;
const rules: { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }[] = parseYaml(
  readFileSync(RULES, 'utf8'),
).groups.flatMap((g: any) => g.rules);

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const hasPromtool = promtool.status === 0;
const NO_PROMTOOL = 'promtool is not on the PATH (Debian: apt-get install prometheus)';

/** Target labels Prometheus attaches to every series it scrapes from the pod. */
const TARGET = { namespace: 'llm', pod: 'tollbooth-0' };
const HEALTHY_MINUTES = 12;
const INCIDENT_MINUTES = 20;

/** The metric names an expression reads (identifiers followed by a selector, a range or nothing). */
function metricNames(expr: string): string[] {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  const words = [...bare.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()/g)].map((m) => m[1]!);
  return [...new Set(words.filter((w) => /^(tollbooth|gen_ai)_/.test(w)))];
}

const seriesKey = (s: Sample) => `${s.name}{${Object.entries({ ...s.labels, ...TARGET }).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;

describe('alerts.yaml', () => {
  test('each alert has a severity, a summary and a description', () => {
    assert.deepEqual(
      rules.map((r) => r.alert).sort(),
      [
        'TollboothBreakerOpen',
        'TollboothConfigReloadRejected',
        'TollboothLedgerAppendSlow',
        'TollboothLedgerVolumeFilling',
        'TollboothLedgerWriteFailing',
        'TollboothOrgCreditsRunningOut',
        'TollboothStateStoreUnavailable',
        'TollboothUpstreamErrorRate',
      ],
    );
    for (const r of rules) {
      assert.match(r.labels.severity ?? '', /^(warning|critical)$/, r.alert);
      assert.ok(r.annotations.summary && r.annotations.description, r.alert);
    }
  });

  test(hasPromtool ? 'promtool check rules accepts the file' : `promtool check rules (skipped: ${NO_PROMTOOL})`, { skip: !hasPromtool && NO_PROMTOOL }, () => {
    const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  });
});

describe(hasPromtool ? 'alerts over what a real sidecar exported' : `alerts over what a real sidecar exported (skipped: ${NO_PROMTOOL})`, { skip: !hasPromtool && NO_PROMTOOL }, () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let dir: string;
  let bare: string;
  /** One scrape per minute: healthy minutes first, then the incident. */
  const scrapes: Sample[][] = [];
  const state = { openaiDown: false, groqCalls: 0, groqFailEvery: 0 };
  const exported = new Set<string>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollbooth-alerts-'));
    bare = join(dir, 'alerts.bare.yaml');
    const file = parseYaml(readFileSync(RULES, 'utf8'));
    for (const g of file.groups) for (const r of g.rules) delete r.annotations;
    writeFileSync(bare, stringify(file));
    upstream = await FakeUpstream.start();
    const ok = fixtureJson('openai/openai-text.json');
    const failure = { status: 500, json: { error: { message: 'The server had an error while processing your request.', type: 'server_error' } } };
    upstream.on('POST', '/v1/chat/completions', () => (state.openaiDown ? failure : { json: ok }));
    upstream.on('POST', '/openai/v1/chat/completions', () => {
      state.groqCalls++;
      return state.groqFailEvery > 0 && state.groqCalls % state.groqFailEvery === 0 ? failure : { json: fixtureJson('groq/groq-text.json') };
    });
    gw = await startTestGateway({
      upstream,
      // One attempt per request; a breaker that opens on a provider failing everything, not on a
      // third, and stays open. Its window is wall time (1 s, the least): the incident starts after it.
      // acme has a plan, so the sidecar exports what it can spend (tollbooth_org_credits_available).
      config: {
        routing: { max_attempts: 1, breaker: { window_ms: 1000, min_requests: 5, failure_ratio: 0.9, open_ms: 600_000, max_open_ms: 600_000 } },
        plans: { team: { allowance: { credits: '1000000', period: 'monthly' } } },
        orgs: [{ id: 'acme', name: 'Acme', plan: 'team' }, { id: 'globex', name: 'Globex' }],
      },
    });
    const client = gw.openai();
    const call = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello' }] }).catch(() => null);
    let lastHealthyCall = 0;
    const minute = async (openai: number, groq: number) => {
      for (let i = 0; i < openai; i++) await call('gpt-4.1-nano');
      for (let i = 0; i < groq; i++) await call('groq/gpt-oss-120b');
      lastHealthyCall = Date.now();
      scrapes.push(parseMetrics(await gw.metrics()));
    };
    for (let m = 0; m < HEALTHY_MINUTES; m++) await minute(4, 4);

    // The incident: openai fails everything, groq a third of its calls, and a config change is refused.
    // It starts once the breaker's window (1 s of wall time) holds no healthy call: the condition is
    // the clock itself, so this waits out exactly the rest of the window, whatever the machine's speed.
    const windowEnds = lastHealthyCall + 1000;
    while (Date.now() <= windowEnds) await new Promise((resolve) => setTimeout(resolve, windowEnds - Date.now() + 1));
    state.openaiDown = true;
    state.groqFailEvery = 3;
    const configFile = join(gw.dir, 'tollbooth.yaml');
    const good = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, stringify({ ...parseYaml(good), routing: { max_attempts: 'three' } }));
    const reload = await gw.gateway.reload('test');
    writeFileSync(configFile, good);
    assert.equal((reload as { ok?: boolean }).ok, false, 'the broken config was refused');
    for (let m = 0; m < INCIDENT_MINUTES; m++) await minute(4, 6);
    for (const s of scrapes.at(-1)!) exported.add(s.name.replace(/_(bucket|sum|count)$/, ''));
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * promtool input series from the scrapes, with incident values applied to the real series of
   * metrics no test can drive (each function gets the minute and the value the sidecar exported).
   */
  function inputSeries(names: string[], incident: Record<string, (minute: number, value: number, s: Sample) => number> = {}): { series: string; values: string }[] {
    const byKey = new Map<string, (number | null)[]>();
    scrapes.forEach((scrape, minute) => {
      for (const s of scrape) {
        const family = s.name.replace(/_(bucket|sum|count)$/, '');
        if (!names.includes(s.name) && !names.includes(family)) continue;
        const key = seriesKey(s);
        if (!byKey.has(key)) byKey.set(key, Array(scrapes.length).fill(null));
        const change = minute >= HEALTHY_MINUTES ? (incident[s.name] ?? incident[family]) : undefined;
        byKey.get(key)![minute] = change ? change(minute - HEALTHY_MINUTES, s.value, s) : s.value;
      }
    });
    return [...byKey].map(([series, values]) => ({ series, values: values.map((v) => (v === null ? '_' : String(v))).join(' ') }));
  }

  /**
   * Runs `promtool test rules` on one alert; returns promtool's output when it fails. The rules are
   * alerts.yaml without annotations (promtool compares them whole; `promtool check rules` checks
   * their templates): expressions, `for` and labels are what is under test.
   */
  function promtoolTest(alert: string, input: { series: string; values: string }[], expectations: { eval_time: string; exp_alerts: { exp_labels: Record<string, string> }[] }[]): string | null {
    const file = join(dir, `${alert}.test.yaml`);
    writeFileSync(
      file,
      stringify({
        rule_files: [bare],
        evaluation_interval: '1m',
        tests: [{ interval: '1m', input_series: input, alert_rule_test: expectations.map((e) => ({ ...e, alertname: alert })) }],
      }),
    );
    const run = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
    return run.status === 0 ? null : run.stdout + run.stderr;
  }

  const rule = (alert: string) => rules.find((r) => r.alert === alert)!;
  const healthyEnd = `${HEALTHY_MINUTES - 1}m`;
  const incidentEnd = `${HEALTHY_MINUTES + INCIDENT_MINUTES - 1}m`;
  const alertLabels = (alert: string, labels: Record<string, string>) => ({ severity: rule(alert).labels.severity!, ...labels });

  /** Skips, naming what is missing, unless the sidecar exports every metric the alert reads. */
  function requireMetrics(t: { skip(message: string): void }, alert: string): boolean {
    const missing = metricNames(rule(alert).expr).filter((n) => !exported.has(n.replace(/_(bucket|sum|count)$/, '')));
    if (missing.length > 0) t.skip(`${alert}: the sidecar does not export ${missing.join(', ')} yet`);
    return missing.length === 0;
  }

  test('TollboothUpstreamErrorRate: quiet while healthy; fires for the provider failing a third of its attempts', (t) => {
    if (!requireMetrics(t, 'TollboothUpstreamErrorRate')) return;
    const failed = scrapes.at(-1)!.filter((s) => s.name === 'tollbooth_upstream_attempts_total' && s.labels.provider === 'groq' && s.labels.result !== 'served');
    assert.ok(failed.reduce((n, s) => n + s.value, 0) > 20, 'the sidecar counted groq\'s failed attempts under provider="groq"');
    const out = promtoolTest('TollboothUpstreamErrorRate', inputSeries(metricNames(rule('TollboothUpstreamErrorRate').expr)), [
      { eval_time: healthyEnd, exp_alerts: [] },
      // openai's attempts stopped once its breaker opened: its rate has no denominator left, the breaker alert covers it.
      { eval_time: incidentEnd, exp_alerts: [{ exp_labels: alertLabels('TollboothUpstreamErrorRate', { namespace: TARGET.namespace, provider: 'groq' }) }] },
    ]);
    assert.equal(out, null, out ?? '');
  });

  test('TollboothBreakerOpen: quiet while healthy; fires for the deployment whose breaker opened', (t) => {
    if (!requireMetrics(t, 'TollboothBreakerOpen')) return;
    const open = scrapes.at(-1)!.filter((s) => s.name === 'tollbooth_breaker_state' && s.value === 2);
    assert.deepEqual(open.map((s) => s.labels.provider), ['openai'], 'the real breaker of openai is open, no other');
    const out = promtoolTest('TollboothBreakerOpen', inputSeries(['tollbooth_breaker_state']), [
      { eval_time: healthyEnd, exp_alerts: [] },
      {
        eval_time: incidentEnd,
        exp_alerts: open.map((s) => ({ exp_labels: alertLabels('TollboothBreakerOpen', { namespace: TARGET.namespace, provider: s.labels.provider!, model: s.labels.model!, credential: s.labels.credential! }) })),
      },
    ]);
    assert.equal(out, null, out ?? '');
  });

  test('TollboothConfigReloadRejected: fires on the first rejected reload and resolves', (t) => {
    if (!requireMetrics(t, 'TollboothConfigReloadRejected')) return;
    const input = inputSeries(['tollbooth_config_reloads_total']);
    const failure = input.find((i) => i.series.includes('result="failure"'));
    assert.ok(failure, 'the sidecar exported the failed reload');
    const labels = alertLabels('TollboothConfigReloadRejected', { ...TARGET, result: 'failure' });
    const out = promtoolTest('TollboothConfigReloadRejected', input, [
      { eval_time: healthyEnd, exp_alerts: [] },
      { eval_time: `${HEALTHY_MINUTES}m`, exp_alerts: [{ exp_labels: labels }] },
      { eval_time: `${HEALTHY_MINUTES + 14}m`, exp_alerts: [{ exp_labels: labels }] },
      { eval_time: incidentEnd, exp_alerts: [] },
    ]);
    assert.equal(out, null, out ?? '');
  });

  test('TollboothLedgerAppendSlow: quiet on the real appends; fires when appends take 300 ms', (t) => {
    if (!requireMetrics(t, 'TollboothLedgerAppendSlow')) return;
    // 50 appends a minute at 0.3 s on top of the real ones, from the incident's start.
    const slow = (minute: number) => 50 * (minute + 1);
    const out = promtoolTest(
      'TollboothLedgerAppendSlow',
      inputSeries(['tollbooth_ledger_append_seconds'], {
        tollbooth_ledger_append_seconds_bucket: (m, v, s) => (s.labels.le === '+Inf' || Number(s.labels.le) >= 0.3 ? v + slow(m) : v),
        tollbooth_ledger_append_seconds_count: (m, v) => v + slow(m),
        tollbooth_ledger_append_seconds_sum: (m, v) => v + 0.3 * slow(m),
      }),
      [
        { eval_time: healthyEnd, exp_alerts: [] },
        { eval_time: incidentEnd, exp_alerts: [{ exp_labels: alertLabels('TollboothLedgerAppendSlow', TARGET) }] },
      ],
    );
    assert.equal(out, null, out ?? '');
  });

  test('TollboothLedgerWriteFailing: fires once the ledger stops accepting writes', (t) => {
    if (!requireMetrics(t, 'TollboothLedgerWriteFailing')) return;
    const out = promtoolTest('TollboothLedgerWriteFailing', inputSeries(['tollbooth_ledger_writable'], { tollbooth_ledger_writable: () => 0 }), [
      { eval_time: healthyEnd, exp_alerts: [] },
      { eval_time: incidentEnd, exp_alerts: [{ exp_labels: alertLabels('TollboothLedgerWriteFailing', TARGET) }] },
    ]);
    assert.equal(out, null, out ?? '');
  });

  test('TollboothLedgerVolumeFilling: fires once less than 10 % of the ledger volume is free', (t) => {
    if (!requireMetrics(t, 'TollboothLedgerVolumeFilling')) return;
    // The sidecar's real series (the filesystem of its temp dir), with the free bytes set to half the
    // volume while healthy and 5 % in the incident, whatever this machine's disk holds.
    const size = scrapes.at(-1)!.find((s) => s.name === 'tollbooth_ledger_volume_bytes' && s.labels.kind === 'size')!.value;
    const input = inputSeries(['tollbooth_ledger_volume_bytes']).map((series) =>
      series.series.includes('kind="free"')
        ? { ...series, values: series.values.split(' ').map((v, minute) => (v === '_' ? v : String(Math.floor(size * (minute >= HEALTHY_MINUTES ? 0.05 : 0.5))))).join(' ') }
        : series,
    );
    const out = promtoolTest(
      'TollboothLedgerVolumeFilling',
      input,
      [
        { eval_time: healthyEnd, exp_alerts: [] },
        { eval_time: incidentEnd, exp_alerts: [{ exp_labels: alertLabels('TollboothLedgerVolumeFilling', TARGET) }] },
      ],
    );
    assert.equal(out, null, out ?? '');
  });

  test('TollboothStateStoreUnavailable: fires once the state store is unreachable', (t) => {
    if (!requireMetrics(t, 'TollboothStateStoreUnavailable')) return;
    const out = promtoolTest('TollboothStateStoreUnavailable', inputSeries(['tollbooth_state_store_available'], { tollbooth_state_store_available: () => 0 }), [
      { eval_time: healthyEnd, exp_alerts: [] },
      { eval_time: incidentEnd, exp_alerts: [{ exp_labels: alertLabels('TollboothStateStoreUnavailable', TARGET) }] },
    ]);
    assert.equal(out, null, out ?? '');
  });

  test('TollboothOrgCreditsRunningOut: fires for the org whose credits last less than 4 hours of its spend', (t) => {
    if (!requireMetrics(t, 'TollboothOrgCreditsRunningOut')) return;
    const spenders = [...new Set(scrapes.at(-1)!.filter((s) => s.name === 'tollbooth_credits_charged_total' && s.value > 0).map((s) => s.labels.org!))];
    assert.ok(spenders.includes('acme'), 'the sidecar charged acme');
    // acme's balance falls to what one minute of its spend costs; other orgs keep theirs.
    const out = promtoolTest(
      'TollboothOrgCreditsRunningOut',
      inputSeries(['tollbooth_org_credits_available', 'tollbooth_credits_charged_total'], {
        tollbooth_org_credits_available: (_m, v, s) => (s.labels.org === 'acme' ? 0.001 : v),
      }),
      [
        { eval_time: healthyEnd, exp_alerts: [] },
        { eval_time: incidentEnd, exp_alerts: [{ exp_labels: alertLabels('TollboothOrgCreditsRunningOut', { namespace: TARGET.namespace, org: 'acme' }) }] },
      ],
    );
    assert.equal(out, null, out ?? '');
  });

  test('increase(…[15m]) > 0 alone sees the first rejected reload: the sidecar exported the counter at 0 before it', (t) => {
    if (!requireMetrics(t, 'TollboothConfigReloadRejected')) return;
    const input = inputSeries(['tollbooth_config_reloads_total']);
    const failure = input.find((i) => i.series.includes('result="failure"'));
    assert.match(failure?.values ?? '', /^0 /, 'the failure series starts at 0 in the first scrape');
    const file = join(dir, 'increase.test.yaml');
    writeFileSync(
      file,
      stringify({
        tests: [
          {
            interval: '1m',
            input_series: input,
            promql_expr_test: [
              { expr: 'count(increase(tollbooth_config_reloads_total{result="failure"}[15m]) > 0)', eval_time: healthyEnd, exp_samples: [] },
              { expr: 'count(increase(tollbooth_config_reloads_total{result="failure"}[15m]) > 0)', eval_time: `${HEALTHY_MINUTES}m`, exp_samples: [{ labels: '{}', value: 1 }] },
            ],
          },
        ],
      }),
    );
    const run = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
  });
});
