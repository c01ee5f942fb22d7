/** The circuit breaker's state machine on a controlled clock. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CircuitBreaker, type BreakerOptions, type BreakerPolicy, type BreakerState } from '../../src/routing/breaker.ts';

const policy: BreakerPolicy = { window_ms: 10_000, min_requests: 5, failure_ratio: 0.5, open_ms: 5_000, max_open_ms: 15_000, ramp_ms: 10_000 };

/** A scripted error rate: the i-th request fails so that faults are spread evenly (rate 0.27 → 27 of every 100). */
const fails = (i: number, rate: number) => Math.floor((i + 1) * rate) > Math.floor(i * rate);

/** A breaker on a clock the test moves, with the ramp's coin under control and its transitions logged. */
function breaker(options: BreakerOptions = {}, p: BreakerPolicy = policy) {
  const clock = { now: 0, coin: 0 };
  const moves: string[] = [];
  const b = new CircuitBreaker(p, {
    clock: () => clock.now,
    random: () => clock.coin,
    onTransition: (from: BreakerState, to: BreakerState) => moves.push(`${from}>${to}`),
    ...options,
  });
  /** Sends `n` requests, one every `stepMs`, through `allow` and records the scripted outcome of those let through. */
  const traffic = (n: number, rate: number, stepMs = 10) => {
    let through = 0;
    for (let i = 0; i < n; i++, clock.now += stepMs) {
      if (!b.allow()) continue;
      b.record(fails(through++, rate));
    }
    return through;
  };
  /** Requests at a scripted error rate (by default all let through, all failing) until it opens: returns the open period it got. */
  const failUntilOpen = (rate = 1, coin = 0) => {
    const saved = clock.coin;
    clock.coin = coin;
    for (let through = 0; ; clock.now += 10) {
      assert.ok(through < 10_000, 'it opens');
      if (!b.allow()) continue;
      b.record(fails(through++, rate));
      if (b.state() === 'open') break;
    }
    clock.coin = saved;
    return b.openUntil() - clock.now;
  };
  return { b, clock, moves, traffic, failUntilOpen };
}

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
    const { b, clock } = breaker();
    for (let i = 0; i < 5; i++) b.record(true, i);
    assert.equal(b.state(5_003), 'open', 'opened at t=4 for 5 s');
    assert.equal(b.state(5_004), 'half_open');
    clock.coin = 0.5;
    assert.equal(b.allow(5_005), false, 'at the start of the ramp only ~10% passes');
    assert.equal(b.allow(5_004 + 9_000), true, 'near the end of the ramp most passes');
    clock.coin = 0.05;
    assert.equal(b.allow(5_005), true, 'the trickle at the start passes');
    assert.equal(b.state(5_004 + 10_000), 'closed');
  });

  test('a steady 27% fault ratio under a 0.5 threshold is never opened', () => {
    const { b, clock, moves, traffic } = breaker();
    clock.now = 1_000;
    assert.equal(traffic(3_000, 0.27), 3_000, 'every request was let through');
    assert.equal(b.state(), 'closed');
    assert.deepEqual(moves, []);
  });

  test('half-open judges the ratio over what the ramp let through: a few faults at a normal error rate do not reopen it', () => {
    const { b, clock, moves, traffic } = breaker();
    traffic(5, 1);
    const openedAt = clock.now - 10;
    assert.equal(b.openUntil(), openedAt + policy.open_ms, 'a full outage opens it');
    clock.now = b.openUntil();
    clock.coin = 0.5;
    // Recovered to 2%, with one of the first ramp requests failing: the old rule reopened here.
    b.record(true);
    assert.equal(b.state(), 'half_open', 'one fault of one is under the minimum count');
    let through = 0;
    for (let i = 0; i < 1_000; i++, clock.now += 10) {
      if (b.allow()) b.record(fails(through++, 0.02));
    }
    assert.ok(through > 100, `the ramp let traffic through (${through})`);
    assert.equal(b.state(openedAt + policy.open_ms + policy.ramp_ms), 'closed', 'all traffic back within open_ms + ramp_ms');
    assert.deepEqual(moves, ['closed>open', 'open>half_open', 'half_open>closed']);
  });

  test('a deployment back at 27% after an outage closes again', () => {
    const { b, clock, moves, traffic } = breaker();
    traffic(5, 1);
    clock.now = b.openUntil();
    clock.coin = 0.3;
    traffic(policy.ramp_ms / 10 + 1, 0.27);
    assert.equal(b.state(), 'closed');
    assert.deepEqual(moves, ['closed>open', 'open>half_open', 'half_open>closed']);
  });

  test('a ramp at or above the threshold reopens it, for longer each trip in a row, up to the cap', () => {
    const { b, clock, moves, failUntilOpen } = breaker();
    const periods = [failUntilOpen()];
    for (let trip = 0; trip < 3; trip++) {
      clock.now = b.openUntil();
      // 60% of what the (random) ramp lets through fails.
      periods.push(failUntilOpen(0.6, 0.15));
    }
    assert.deepEqual(periods, [5_000, 10_000, 15_000, 15_000], 'open_ms, then doubled, then capped at max_open_ms');
    assert.deepEqual(moves.slice(0, 4), ['closed>open', 'open>half_open', 'half_open>open', 'open>half_open']);
  });

  test('the open period doubles with each trip in a row and stops at max_open_ms', () => {
    const { b, clock, failUntilOpen } = breaker();
    const periods = [failUntilOpen()];
    for (let trip = 0; trip < 4; trip++) {
      clock.now = b.openUntil();
      periods.push(failUntilOpen());
    }
    assert.deepEqual(periods, [5_000, 10_000, 15_000, 15_000, 15_000]);
  });

  test('a ramp is not reopened before it holds min_requests, whatever the faults', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 5; i++) b.record(true, i);
    clock.now = b.openUntil();
    for (let i = 0; i < 4; i++) b.record(true);
    assert.equal(b.state(), 'half_open', '4 faults of 4: under the minimum');
    b.record(true);
    assert.equal(b.state(), 'open');
    assert.equal(b.openUntil(), clock.now + 2 * policy.open_ms, 'the second trip in a row: twice open_ms');
  });

  test('a relapse soon after closing counts as a trip in a row; a whole window closed starts over', () => {
    const { b, clock, traffic, failUntilOpen } = breaker();
    failUntilOpen();
    clock.now = b.openUntil();
    clock.coin = 0.5;
    traffic(policy.ramp_ms / 10, 0);
    assert.equal(b.state(), 'closed');
    assert.equal(failUntilOpen(), 2 * policy.open_ms, 'relapse within a window of closing: doubled');
    clock.now = b.openUntil();
    traffic(policy.ramp_ms / 10, 0);
    assert.equal(b.state(), 'closed');
    clock.now += policy.window_ms;
    assert.equal(failUntilOpen(), policy.open_ms, 'closed for a whole window: back to open_ms');
  });

  test('answers to requests sent before the ramp began are not held against it', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 5; i++) b.record(true, i);
    clock.now = b.openUntil() + 100;
    // Slow timeouts from the outage, sent while it was still closed.
    for (let i = 0; i < 20; i++) b.record(true, clock.now, 3);
    assert.equal(b.state(), 'half_open');
    for (let i = 0; i < 5; i++) b.record(true, clock.now, clock.now - 50);
    assert.equal(b.state(), 'open', 'faults of requests the ramp let through count');
  });

  test('Retry-After holds it open that long, and says the provider asked for it', () => {
    const { b, moves } = breaker();
    b.holdUntil(20_000, 0);
    assert.equal(b.state(1), 'open');
    assert.equal(b.heldByProvider(1), true);
    assert.equal(b.openUntil(1), 20_000);
    assert.equal(b.state(20_001), 'half_open');
    assert.deepEqual(moves, ['closed>open', 'open>half_open']);
  });

  test('a Retry-After pause is not a trip: the next fault trip still gets open_ms', () => {
    const { b, clock, traffic } = breaker();
    b.holdUntil(60_000, 0);
    clock.now = 60_000 + policy.ramp_ms;
    assert.equal(b.state(), 'closed');
    clock.now += policy.window_ms;
    traffic(5, 1);
    assert.equal(b.openUntil() - (clock.now - 10), policy.open_ms);
    assert.equal(b.heldByProvider(), false);
  });

  test('a ramp after a Retry-After pause does not inherit the trips of an incident long over', () => {
    const { b, clock, traffic, failUntilOpen } = breaker();
    failUntilOpen();
    clock.now = b.openUntil();
    assert.equal(failUntilOpen(), 2 * policy.open_ms);
    clock.now = b.openUntil();
    clock.coin = 0.5;
    traffic(policy.ramp_ms / 10, 0);
    traffic(policy.window_ms / 10, 0);
    assert.equal(b.state(), 'closed');
    b.holdUntil(clock.now + 1_000);
    clock.now += 1_000;
    assert.equal(b.state(), 'half_open');
    assert.equal(failUntilOpen(), policy.open_ms, 'a first trip again');
  });

  test('a Retry-After longer than a fault trip extends it and stays a fault trip', () => {
    const { b, clock, moves, traffic } = breaker();
    traffic(5, 1);
    b.holdUntil(clock.now + 30_000);
    assert.equal(b.openUntil(), clock.now + 30_000);
    assert.equal(b.heldByProvider(), false, 'open for faults: the caller is not told it is a rate limit');
    assert.deepEqual(moves, ['closed>open'], 'extending an open breaker is no transition');
  });
});
