/** Health windows: the seed's success rate, p50 latency and last check, with bounded memory. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HealthWindow } from '../../src/routing/health.ts';

describe('health window', () => {
  test('success rate counts 2xx against 4xx and 5xx; p50 is the median latency', () => {
    const w = new HealthWindow(60_000);
    const statuses = ['2xx', '2xx', '2xx', '4xx', '5xx'] as const;
    statuses.forEach((s, i) => w.observe({ statusClass: s, providerFault: s === '5xx', latencyMs: [10, 30, 20, 50, 40][i]!, ttfbMs: 5 }, 1000 + i));
    assert.equal(w.successRate(2000), 3 / 5);
    assert.equal(w.p50LatencyMs(), 30);
    assert.equal(w.p50TtfbMs(), 5);
    assert.equal(w.lastCheck, 1004);
    assert.deepEqual(w.counts(2000), { total: 5, ok: 3, faults: 1 });
  });

  test('old buckets fall out of the window', () => {
    const w = new HealthWindow(60_000);
    w.observe({ statusClass: '5xx', providerFault: true, latencyMs: 1, ttfbMs: null }, 0);
    w.observe({ statusClass: '2xx', providerFault: false, latencyMs: 1, ttfbMs: null }, 70_000);
    assert.equal(w.successRate(70_001), 1);
    assert.equal(w.successRate(200_000), null, 'nothing left in the window');
  });

  test('latency samples are bounded: the median follows recent traffic', () => {
    const w = new HealthWindow(60_000);
    for (let i = 0; i < 1000; i++) w.observe({ statusClass: '2xx', providerFault: false, latencyMs: 1000, ttfbMs: null }, i);
    for (let i = 0; i < 200; i++) w.observe({ statusClass: '2xx', providerFault: false, latencyMs: 5, ttfbMs: null }, 1000 + i);
    assert.equal(w.p50LatencyMs(), 5);
  });
});
