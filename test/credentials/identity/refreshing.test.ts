/** Refreshing (identity/refreshing.ts) on a test clock: when a short-lived value is fetched, reused and renewed. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Refreshing } from '../../../src/credentials/identity/refreshing.ts';

/** A fetcher issuing value-1, value-2, … each living `lifetime` ms from the test clock's now. */
function issuer(clock: { now: number }, lifetime: number) {
  const calls: number[] = [];
  let fail: Error | null = null;
  let gate: Promise<void> | null = null;
  const fetch = async () => {
    calls.push(clock.now);
    if (gate) await gate;
    if (fail) throw fail;
    return { value: `value-${calls.length}`, expiresAt: clock.now + lifetime };
  };
  return {
    calls,
    fetch,
    failWith(err: Error | null) {
      fail = err;
    },
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
  };
}

describe('Refreshing', () => {
  test('fetches once, then serves the cached value until its refresh point', async () => {
    const clock = { now: 1_000_000 };
    const source = issuer(clock, 60 * 60_000);
    const r = new Refreshing(source.fetch, () => clock.now);
    assert.equal(await r.get(), 'value-1');
    clock.now += 54 * 60_000;
    assert.equal(await r.get(), 'value-1');
    assert.equal(source.calls.length, 1, 'an hour-long key is not renewed before its last 5 minutes');
  });

  test('past the refresh point the current value is served while one background fetch renews it', async () => {
    const clock = { now: 0 };
    const source = issuer(clock, 4000);
    const r = new Refreshing(source.fetch, () => clock.now);
    await r.get();
    clock.now = 2000; // half of a short lifetime
    const release = source.hold();
    const served = await Promise.all([r.get(), r.get(), r.get()]);
    assert.deepEqual(served, ['value-1', 'value-1', 'value-1'], 'no request waits for the refresh');
    assert.equal(source.calls.length, 2, 'one refresh for all of them');
    release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await r.get(), 'value-2');
  });

  test('an expired value is never served: the next request waits for the new one', async () => {
    const clock = { now: 0 };
    const source = issuer(clock, 4000);
    const r = new Refreshing(source.fetch, () => clock.now);
    await r.get();
    clock.now = 3700; // inside the last tenth of the life: as good as expired for a request on its way
    assert.equal(await r.get(), 'value-2');
  });

  test('a failed background refresh keeps the current value; failures back off; recovery is immediate after the backoff', async () => {
    const clock = { now: 0 };
    const source = issuer(clock, 4000);
    const r = new Refreshing(source.fetch, () => clock.now);
    await r.get();
    clock.now = 3500;
    source.failWith(new Error('sts down'));
    assert.equal(await r.get(), 'value-1');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await r.get(), 'value-1', 'still valid: still served');
    assert.equal(source.calls.length, 2, 'no new attempt within the backoff');
    clock.now = 3650; // past usable, still within the 250 ms backoff: the error, without a new call
    await assert.rejects(r.get(), /sts down/);
    assert.equal(source.calls.length, 2);
    source.failWith(null);
    clock.now = 3800;
    assert.equal(await r.get(), 'value-3');
  });

  test('the issuer’s own refresh time (Entra refresh_in) is honoured when earlier', async () => {
    const clock = { now: 0 };
    let n = 0;
    const r = new Refreshing(async () => ({ value: `t${++n}`, expiresAt: clock.now + 24 * 3600_000, refreshAt: clock.now + 3600_000 }), () => clock.now);
    await r.get();
    clock.now = 3600_000;
    assert.equal(await r.get(), 't1');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await r.get(), 't2');
  });
});
