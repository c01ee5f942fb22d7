/**
 * Counters with a known label set are exported at 0 from the start (issue 17, item 11): a series
 * that appears only with its first increment has no earlier sample, so increase() and rate() never
 * see that first event — the first rejected config reload, rotation or denial would go unseen.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import { createMetrics, initialiseSeries } from '../../src/metrics/registry.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { parseMetrics, value, type Sample } from '../support/prometheus.ts';

const ROTATION_RESULTS = ['rotated', 'rotated_unverified', 'rejected', 'unverified', 'unreadable'];

describe('series exported at 0 before their first event', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let first: Sample[];

  before(async () => {
    upstream = await FakeUpstream.start();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    gw = await startTestGateway({ upstream });
    first = parseMetrics(await gw.metrics());
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('the first scrape has config reloads, denials, rotations and verifications at 0', () => {
    for (const result of ['success', 'failure']) assert.equal(value(first, 'tollbooth_config_reloads_total', { result }), 0, result);
    for (const [code, layer] of [['credits_exhausted', 'org'], ['model_not_in_plan', 'org'], ['provider_not_in_plan', 'org'], ['rpm_exceeded', 'key'], ['tpm_exceeded', 'org']]) {
      assert.equal(value(first, 'tollbooth_admission_denials_total', { code: code!, layer: layer! }), 0, `${code} ${layer}`);
    }
    const configured = gw.gateway.services.runtime.current.config.credentials;
    assert.ok(configured.length > 1);
    for (const c of configured) {
      for (const result of ROTATION_RESULTS) assert.equal(value(first, 'tollbooth_credential_rotations_total', { provider: c.provider, credential: c.id, result }), 0, `${c.id} ${result}`);
      assert.equal(value(first, 'tollbooth_credential_verifications_total', { provider: c.provider, result: 'invalid' }), 0, c.provider);
    }
    assert.equal(value(first, 'tollbooth_ledger_torn_tails_total'), 0);
    // Upstream attempts of every served catalog model of a configured provider: a first failure is seen.
    const providers = new Set(configured.map((c) => c.provider));
    const models = [...gw.catalog().models.values()].filter((m) => m.status !== 'retired' && providers.has(m.provider));
    assert.ok(models.length > 10);
    for (const m of models) {
      for (const result of ['served', 'retried', 'failed']) {
        assert.equal(value(first, 'tollbooth_upstream_attempts_total', { provider: m.provider, model: m.model_id, result }), 0, `${m.model_id} ${result}`);
      }
    }
    assert.equal(first.filter((x) => x.name === 'tollbooth_upstream_attempts_total' && x.labels.model === 'gpt-4.1-nano').length, 0, 'not for a retired model');
    assert.equal(first.filter((s) => s.name === 'tollbooth_state_store_calls_total').length, 0, 'no Redis round trips to count with state: memory');
  });

  test('a deployment has every breaker transition at 0 once it is seen', async () => {
    await gw.openai().chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hello' }] });
    const s = parseMetrics(await gw.metrics());
    const seen = s.filter((x) => x.name === 'tollbooth_breaker_state');
    assert.equal(seen.length, 1, 'one deployment served');
    const { provider, model, credential } = seen[0]!.labels;
    for (const [from, to] of [['closed', 'open'], ['open', 'half_open'], ['half_open', 'closed'], ['half_open', 'open']]) {
      assert.equal(value(s, 'tollbooth_breaker_transitions_total', { provider: provider!, model: model!, credential: credential!, from: from!, to: to! }), 0, `${from} → ${to}`);
    }
  });

  test('a failed reload is an increase from 0; a credential added by a reload starts at 0 too', async () => {
    const file = join(gw.dir, 'tollbooth.yaml');
    const good = parseYaml(readFileSync(file, 'utf8'));
    writeFileSync(file, stringify({ ...good, routing: { max_attempts: 'three' } }));
    assert.equal((await gw.gateway.reload('test')).ok, false);
    let s = parseMetrics(await gw.metrics());
    assert.equal(value(s, 'tollbooth_config_reloads_total', { result: 'failure' }), 1);
    assert.equal(value(s, 'tollbooth_config_reloads_total', { result: 'success' }), 0, 'still exported');

    const openai = good.credentials.find((c: { provider: string }) => c.provider === 'openai');
    writeFileSync(file, stringify({ ...good, credentials: [...good.credentials, { ...openai, id: 'openai-second' }] }));
    assert.equal((await gw.gateway.reload('test')).ok, true);
    s = parseMetrics(await gw.metrics());
    assert.equal(value(s, 'tollbooth_config_reloads_total', { result: 'success' }), 1);
    assert.equal(value(s, 'tollbooth_config_reloads_total', { result: 'failure' }), 1, 'kept across the reload');
    for (const result of ROTATION_RESULTS) assert.equal(value(s, 'tollbooth_credential_rotations_total', { provider: 'openai', credential: 'openai-second', result }), 0, result);
  });

  test('with state: redis, every state store operation and the state_unavailable denial start at 0', async () => {
    const metrics = createMetrics();
    initialiseSeries(metrics, { credentials: [], models: [], stateMode: 'redis' });
    const s = parseMetrics(await metrics.registry.metrics());
    for (const operation of ['admit', 'settle', 'release', 'grant', 'balance']) assert.equal(value(s, 'tollbooth_state_store_calls_total', { operation }), 0, operation);
    assert.equal(value(s, 'tollbooth_admission_denials_total', { code: 'state_unavailable', layer: 'state' }), 0);
  });
});
