/** Routing decisions from observed health: strategies, refused credentials, provider-requested pauses. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Secret } from '../../src/credentials/secret.ts';
import type { Credential } from '../../src/credentials/store.ts';
import { RoutingHealth, type RoutingPolicy } from '../../src/routing/routing-health.ts';
import type { Target } from '../../src/routing/target.ts';
import { loadTestCatalog } from '../support/catalog.ts';

const policy: RoutingPolicy = {
  max_attempts: 3,
  deadline_ms: 30_000,
  health_window_ms: 60_000,
  credential_cooldown_ms: 60_000,
  breaker: { window_ms: 30_000, min_requests: 5, failure_ratio: 0.5, open_ms: 15_000, max_open_ms: 120_000, ramp_ms: 30_000 },
};
const catalog = loadTestCatalog();

function target(provider: string, key = `key-${provider}`, weight = 1): Target {
  const credential: Credential = {
    id: provider, provider, billing: 'managed', secret: new Secret(key), unavailable: null, baseUrl: null, region: null, apiVersion: null, source: 'test',
  };
  return { provider: catalog.provider(provider)!, model: null, upstreamModel: 'm', credential, baseUrl: 'http://x', weight };
}
const names = (ts: Target[]) => ts.map((t) => t.provider.name);

describe('routing health', () => {
  test('a refused credential is left aside, and a rotated one (new key, same id) is not', () => {
    const health = new RoutingHealth(policy);
    const openai = target('openai', 'old-key');
    health.observe(openai, { status: 401, latencyMs: 5, ttfbMs: 5 }, 0);
    const { usable, refused } = health.choose([openai, target('groq')], 'priority', 1);
    assert.deepEqual(names(usable), ['groq']);
    assert.match(refused[0]!, /credential 'openai' was refused/);
    const rotated = target('openai', 'new-key');
    assert.deepEqual(names(health.choose([rotated], 'priority', 2).usable), ['openai']);
    assert.deepEqual(names(health.choose([openai], 'priority', 60_001).usable), ['openai'], 'the cooldown ends');
  });

  test('only a Retry-After hold everywhere makes the choice a rate limit', () => {
    const health = new RoutingHealth(policy);
    const a = target('openai');
    health.observe(a, { status: 429, latencyMs: 1, ttfbMs: 1, retryAfterMs: 10_000 }, 0);
    const held = health.choose([a], 'priority', 1);
    assert.equal(held.usable.length, 0);
    assert.equal(held.rateLimited, true);
    assert.equal(held.waitMs, 9_999);
    const b = target('groq');
    for (let i = 0; i < 5; i++) health.observe(b, { status: 503, latencyMs: 1, ttfbMs: 1 }, i);
    assert.equal(health.choose([a, b], 'priority', 10).rateLimited, false, 'one of them is down, not pausing');
  });

  test('breakers follow the injected clock, count their transitions, and ignore answers sent before the ramp', () => {
    let now = 1_000_000;
    const health = new RoutingHealth(policy, { clock: () => now, random: () => 0 });
    const a = target('openai');
    const b = target('groq');
    for (let i = 0; i < 5; i++) health.observe(a, { status: 503, latencyMs: 1, ttfbMs: 1 });
    assert.deepEqual(names(health.choose([a, b], 'priority').usable), ['groq']);
    now += policy.breaker.open_ms;
    assert.deepEqual(names(health.choose([a, b], 'priority').usable), ['openai', 'groq'], 'half-open: the ramp lets it through');
    // Timeouts of requests sent during the outage land in the ramp: they say nothing about it.
    for (let i = 0; i < 10; i++) health.observe(a, { status: null, latencyMs: 20_000, ttfbMs: null });
    now += policy.breaker.ramp_ms;
    const [line] = health.snapshot();
    assert.equal(line!.breaker, 'closed');
    assert.deepEqual(line!.breaker_transitions, [
      { from: 'closed', to: 'open', count: 1 },
      { from: 'open', to: 'half_open', count: 1 },
      { from: 'half_open', to: 'closed', count: 1 },
    ]);
  });

  test('least-latency puts the fastest first and explores unknown ones', () => {
    const health = new RoutingHealth(policy);
    const [slow, fast, fresh] = [target('openai'), target('groq'), target('mistral')];
    for (let i = 0; i < 3; i++) {
      health.observe(slow, { status: 200, latencyMs: 900, ttfbMs: 100 }, i);
      health.observe(fast, { status: 200, latencyMs: 100, ttfbMs: 10 }, i);
    }
    assert.deepEqual(names(health.choose([slow, fast, fresh], 'least-latency', 10).usable), ['mistral', 'groq', 'openai']);
  });

  test('weighted spreads first choices by weight', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const health = new RoutingHealth(policy, { random });
    const heavy = target('openai', 'k', 3);
    const light = target('groq', 'k', 1);
    const first = { openai: 0, groq: 0 } as Record<string, number>;
    for (let i = 0; i < 4000; i++) first[health.choose([heavy, light], 'weighted').usable[0]!.provider.name]!++;
    assert.ok(Math.abs(first.openai! / 4000 - 0.75) < 0.03, JSON.stringify(first));
  });
});
