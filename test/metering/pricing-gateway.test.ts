/**
 * Pricing through the real sidecar: the service tier the provider reports (not the one asked for),
 * a dated price already in force, and an unpriced model's run credit with its metric and log line.
 * The expected credits come from the rule in test/support/expect.ts, not from src/.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { expectedCredits } from '../support/expect.ts';
import type { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { useGateway, type TestGateway } from '../support/gateway.ts';

const RECORDING = 'openai/openai-text.json';
const base = { vendor: 'test', provider: 'openai', upstream_model: 'gpt-5.1', context_window: 400000, quality_score: 50, latency_score: 50, status: 'active' };
const MODELS = [
  {
    ...base, model_id: 'tiered-test', name: 'Tiered',
    input_usd_per_1m: 1.25, output_usd_per_1m: 10, cache_read_usd_per_1m: 0.125,
    service_tiers: { flex: { input_usd_per_1m: 0.625, output_usd_per_1m: 5 }, priority: { input_usd_per_1m: 2.5, output_usd_per_1m: 20 } },
  },
  {
    ...base, model_id: 'dated-test', name: 'Dated',
    input_usd_per_1m: 1, output_usd_per_1m: 2,
    price_changes: [{ effective_from: '2026-01-01', input_usd_per_1m: 3, output_usd_per_1m: 7 }, { effective_from: '2099-01-01', input_usd_per_1m: 9, output_usd_per_1m: 9 }],
  },
  { ...base, model_id: 'unpriced-test', name: 'Unpriced', input_usd_per_1m: null, output_usd_per_1m: null },
];

describe('pricing through the sidecar', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  useGateway((u, g) => ((upstream = u), (gw = g)), { config: { models: MODELS } });

  let requests = 0;
  /** The charge entry of one request, replayed from `reply`. */
  async function chargeFor(model: string, reply: unknown, extra: Record<string, unknown> = {}) {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { json: reply });
    const requestId = `pricing-${++requests}`;
    await gw.openai(undefined, { defaultHeaders: { 'x-request-id': requestId } }).chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello' }], ...extra });
    const charge = (await gw.usage()).find((c) => c.request_id === requestId);
    assert.ok(charge, 'the request was charged');
    return { charge };
  }

  test('the service tier the provider reports prices the request, not the one asked for', async () => {
    const recording = fixtureJson(RECORDING);
    const model = gw.catalog().resolve('tiered-test').model;
    const { prompt_tokens: prompt, completion_tokens: completion } = recording.usage;

    // Asked for priority, served at default: base prices.
    const asked = await chargeFor('tiered-test', recording, { service_tier: 'priority' });
    assert.equal(recording.service_tier, 'default');
    near(asked.charge.credits, expectedCredits(model, prompt, completion));
    assert.equal(asked.charge.bill?.rate, 'tiered-test@base');

    // Served at flex: flex prices.
    const flex = await chargeFor('tiered-test', { ...recording, service_tier: 'flex' });
    near(flex.charge.credits, expectedCredits(model, prompt, completion, { serviceTier: 'flex' }));
    assert.equal(flex.charge.bill?.rate, 'tiered-test@base/flex');
    assert.ok(Number(flex.charge.credits) < Number(asked.charge.credits));
  });

  test('the dated price in force at the request start applies (a past change, not a future one)', async () => {
    const recording = fixtureJson(RECORDING);
    const model = gw.catalog().resolve('dated-test').model;
    const { charge } = await chargeFor('dated-test', recording);
    // From the rule: 2026-01-01's prices (3 / 7); 2099's are not in force yet.
    const { prompt_tokens: p, completion_tokens: c } = recording.usage;
    near(charge.credits, 1 + ((p * 3 + c * 7) / 1e6) * 1.05 * 1000);
    near(charge.credits, expectedCredits(model, p, c));
    assert.equal(charge.bill?.rate, 'dated-test@2026-01-01');
  });

  test('an unpriced model: the managed turn costs the run credit, flagged, counted in the metric', async () => {
    const metricsBefore = await gw.metrics();
    const before = unpricedCount(metricsBefore);
    const runBefore = runCredits(metricsBefore);
    const { charge } = await chargeFor('unpriced-test', fixtureJson(RECORDING));
    assert.equal(charge.credits, '1');
    assert.equal(charge.unpriced, true);
    assert.equal(charge.bill?.rate, 'unpriced-test@unpriced');
    assert.deepEqual(charge.bill?.rates, {}, 'no token rate was used');
    const metricsAfter = await gw.metrics();
    assert.equal(unpricedCount(metricsAfter), before + 1);
    assert.equal(runCredits(metricsAfter), runBefore + 1, 'the run credit shows in the credits by class');
  });
});

/** Exact decimal credits against the rule in floating point (1e-9 credit is far below any price step here). */
function near(credits: string, expected: number): void {
  assert.ok(Math.abs(Number(credits) - expected) < 1e-9, `${credits} ≈ ${expected}`);
}

function runCredits(metrics: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith('tollbooth_credits_by_class_total{org="acme",class="run"}'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

function unpricedCount(metrics: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith('tollbooth_unpriced_usage_total{') && l.includes('model="unpriced-test"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
