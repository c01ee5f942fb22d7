/** The circuit breaker's state machine on a controlled clock. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CircuitBreaker } from '../../src/routing/breaker.ts';

const policy = { window_ms: 10_000, min_requests: 5, failure_ratio: 0.5, open_ms: 5_000, ramp_ms: 10_000 };

describe('circuit breaker', () => {
  test('one error never opens it; the ratio over a minimum count does', () => {
    const b = new CircuitBreaker(policy);
    b.record(true, 0);
    assert.equal(b.state(1), 'closed', 'a single fault');
    b.record(true, 1);
    b.record(false, 2);
    b.record(true, 3);
    assert.equal(b.state(4), 'closed', 'four requests are under the minimum');
    b.record(false, 4);
    assert.equal(b.state(5), 'open', '3 faults of 5 ≥ 50%');
    assert.equal(b.allow(6), false);
    assert.equal(b.openUntil(6), 4 + 5_000);
  });

  test('faults older than the window are forgotten', () => {
    const b = new CircuitBreaker(policy);
    for (let i = 0; i < 4; i++) b.record(true, i);
    for (let i = 0; i < 4; i++) b.record(false, 20_000 + i);
    b.record(true, 20_010);
    assert.equal(b.state(20_011), 'closed', '1 fault of 5 in the current window');
  });

  test('half-open lets a growing share through, and closes after the ramp', () => {
    let r = 0;
    const b = new CircuitBreaker(policy, () => r);
    for (let i = 0; i < 5; i++) b.record(true, i);
    assert.equal(b.state(5_003), 'open', 'opened at t=4 for 5 s');
    assert.equal(b.state(5_004), 'half_open');
    r = 0.5;
    assert.equal(b.allow(5_005), false, 'at the start of the ramp only ~10% passes');
    assert.equal(b.allow(5_004 + 9_000), true, 'near the end of the ramp most passes');
    r = 0.05;
    assert.equal(b.allow(5_005), true, 'the trickle at the start passes');
    assert.equal(b.state(5_004 + 10_000), 'closed');
  });

  test('a fault while ramping reopens it', () => {
    const b = new CircuitBreaker(policy, () => 0);
    for (let i = 0; i < 5; i++) b.record(true, i);
    assert.equal(b.state(6_000), 'half_open');
    b.record(true, 6_001);
    assert.equal(b.state(6_002), 'open');
    assert.equal(b.openUntil(6_002), 6_001 + 5_000);
  });

  test('Retry-After holds it open that long, and says the provider asked for it', () => {
    const b = new CircuitBreaker(policy);
    b.holdUntil(20_000, 0);
    assert.equal(b.state(1), 'open');
    assert.equal(b.heldByProvider(1), true);
    assert.equal(b.openUntil(1), 20_000);
    assert.equal(b.state(20_001), 'half_open');
  });
});
