/**
 * The Redis state store against a real Redis: exact amounts across the 2^53 and 2^63 pico-credit
 * boundaries (compared with BigInt at every step), holds that cannot overspend under concurrency,
 * idempotent settles and grants, TTL'd holds, one stream entry per charge.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { formatCredits, parseCredits, PICO_PER_CREDIT } from '../../src/metering/credits.ts';
import type { Allowance } from '../../src/metering/ledger/accounts.ts';
import type { RedisStateStore } from '../../src/state/redis/redis-store.ts';
import { fromPair, toPair } from '../../src/state/redis/amount.ts';
import { connectStore, REDIS_SKIP } from '../support/redis.ts';

const credits = (text: string) => parseCredits(text);

describe('Redis state store', { skip: REDIS_SKIP }, () => {
  let store: RedisStateStore;
  before(async () => {
    store = await connectStore();
  });
  after(() => store?.close());

  const settle = (org: string, pico: bigint, allowance: Allowance | null = null, holdId = randomUUID()) =>
    store.settle({ org, holdId, pico, allowance, at: new Date().toISOString(), record: '{}' });

  test('pairs round-trip every sign and size', () => {
    for (const v of [0n, 1n, -1n, PICO_PER_CREDIT - 1n, -PICO_PER_CREDIT, 2n ** 53n + 1n, -(2n ** 63n) - 7n, 10n ** 27n + 3n, -(10n ** 27n) - 3n]) {
      const p = toPair(v);
      assert.ok(BigInt(p.r) >= 0n && BigInt(p.r) < PICO_PER_CREDIT);
      assert.equal(fromPair(p.w, p.r), v);
    }
  });

  test('balances stay exact across 2^53 and 2^63 pico-credits and up to 10^15 credits', async () => {
    const org = 'exact';
    let wallet = 0n;
    let charged = 0n;
    let lowest = 0n;
    const check = async (step: string) => {
      const b = await store.balance(org, null, new Date());
      assert.equal(b.wallet, wallet, `wallet after ${step}: ${formatCredits(b.wallet)} vs ${formatCredits(wallet)}`);
      assert.equal(b.charged, charged, `charged after ${step}`);
    };
    const steps: Array<[string, bigint]> = [
      ['grant', 2n ** 53n - 3n], // just under 2^53 pico (≈ 9,007 credits)
      ['grant', 5n], // across 2^53
      ['charge', credits('1.000000000001')],
      ['grant', 2n ** 63n], // across 2^63 pico (≈ 9.2 M credits)
      ['charge', 2n ** 62n + 999_999_999_999n],
      ['grant', 10n ** 15n * PICO_PER_CREDIT - 1n], // 10^15 credits less one pico
      ['charge', credits('0.000000000001')],
      ['charge', 10n ** 15n * PICO_PER_CREDIT + 2n ** 64n], // down across zero, into debt past -2^63
      ['grant', credits('123456789.987654321012')],
    ];
    for (const [kind, pico] of steps) {
      if (kind === 'grant') {
        await store.grant({ org, grantId: randomUUID(), pico, entry: '{}' });
        wallet += pico;
      } else {
        await settle(org, pico);
        wallet -= pico;
        charged += pico;
      }
      await check(`${kind} ${pico}`);
      if (wallet < lowest) lowest = wallet;
    }
    assert.ok(lowest < -(2n ** 63n), 'the sequence went into debt beyond -2^63 pico-credits');
  });

  test('allowance is spent first, then the wallet, exactly, per period', async () => {
    const org = 'allow';
    const allowance: Allowance = { pico: credits('50'), period: 'monthly' };
    await store.grant({ org, grantId: 'g1', pico: credits('10'), entry: '{}' });
    const a = await settle(org, credits('49.5'), allowance);
    assert.deepEqual([a.split.fromAllowance, a.split.fromWallet], [credits('49.5'), 0n]);
    const b = await settle(org, credits('1.25'), allowance);
    assert.deepEqual([b.split.fromAllowance, b.split.fromWallet], [credits('0.5'), credits('0.75')]);
    const bal = await store.balance(org, allowance, new Date());
    assert.equal(bal.allowanceRemaining, 0n);
    assert.equal(bal.wallet, credits('9.25'));
    assert.equal(bal.spendable, credits('9.25'));
  });

  test('concurrent reserves never hold more than the org can spend', async () => {
    const org = 'race';
    const allowance: Allowance = { pico: credits('50'), period: 'daily' };
    const hold = credits('1.7');
    const results = await Promise.all(
      Array.from({ length: 200 }, () => store.admit({ draws: [], hold: { org, holdId: randomUUID(), amount: hold, allowance, now: new Date(), ttlMs: 60_000 }, now: Date.now() })),
    );
    const granted = results.filter((r) => r.ok).length;
    assert.equal(granted, 29, '29 × 1.7 = 49.3 fits in 50, a 30th would not');
    const bal = await store.balance(org, allowance, new Date());
    assert.equal(bal.held, hold * 29n);
  });

  test('a settle is idempotent per hold id and drops the hold; a release after it is a no-op', async () => {
    const org = 'idem';
    await store.grant({ org, grantId: 'g', pico: credits('100'), entry: '{}' });
    const holdId = randomUUID();
    assert.ok((await store.admit({ draws: [], hold: { org, holdId, amount: credits('5'), allowance: null, now: new Date(), ttlMs: 60_000 }, now: Date.now() })).ok);
    assert.equal((await store.balance(org, null, new Date())).held, credits('5'));
    const first = await settle(org, credits('2'), null, holdId);
    const again = await settle(org, credits('2'), null, holdId);
    await store.release(org, holdId);
    assert.equal(first.duplicate, false);
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.split, first.split);
    const bal = await store.balance(org, null, new Date());
    assert.equal(bal.wallet, credits('98'));
    assert.equal(bal.held, 0n);
    const stream = await store.client.xrange(store.keys.stream(org), '-', '+');
    assert.equal(stream.filter(([, f]) => f[1] === 'charge').length, 1, 'one stream entry per charge');
  });

  test('a grant id applies once and returns the entry it was recorded with', async () => {
    const org = 'grants';
    const first = await store.grant({ org, grantId: 'g', pico: credits('7'), entry: '{"n":1}' });
    const repeat = await store.grant({ org, grantId: 'g', pico: credits('7'), entry: '{"n":2}' });
    assert.deepEqual([first.created, repeat.created, repeat.entry], [true, false, '{"n":1}']);
    assert.equal((await store.balance(org, null, new Date())).wallet, credits('7'));
  });

  test('a hold whose TTL ran out stops counting; its late settle still books the charge', async () => {
    const org = 'ttl';
    await store.grant({ org, grantId: 'g', pico: credits('10'), entry: '{}' });
    const holdId = randomUUID();
    assert.ok((await store.admit({ draws: [], hold: { org, holdId, amount: credits('8'), allowance: null, now: new Date(), ttlMs: 1 }, now: Date.now() })).ok);
    // Wait for the server's clock, not ours: the hold is gone once a balance read sweeps it.
    let held = credits('8');
    while (held !== 0n) held = (await store.balance(org, null, new Date())).held;
    await settle(org, credits('3'), null, holdId);
    assert.equal((await store.balance(org, null, new Date())).wallet, credits('7'));
  });

  test('admit is all or nothing: a refused hold takes no rate-limit draw, a refused draw holds nothing', async () => {
    const org = 'admit';
    await store.grant({ org, grantId: 'g', pico: credits('3'), entry: '{}' });
    const rule = { capacity: 10, perSecond: 10 / 60 };
    const draws = [{ org, key: 'rpm:org:admit', cost: 1, rule }];
    const hold = (amount: string) => ({ org, holdId: randomUUID(), amount: credits(amount), allowance: null, now: new Date(), ttlMs: 60_000 });
    assert.deepEqual(await store.admit({ draws, hold: hold('2'), now: Date.now() }), { ok: true });
    const refused = await store.admit({ draws, hold: hold('2'), now: Date.now() });
    assert.deepEqual(refused, { ok: false, refused: 'credits', available: credits('1') });
    // 9 draws left in the bucket, not 8: the refused admission took none.
    for (let i = 0; i < 9; i++) assert.equal((await store.admit({ draws, hold: null, now: Date.now() })).ok, true);
    const limited = await store.admit({ draws, hold: hold('0.5'), now: Date.now() });
    assert.equal(limited.ok === false && limited.refused, 'rate');
    assert.equal((await store.balance(org, null, new Date())).held, credits('2'), 'the rate-limited admission held nothing');
  });

  test('a settle corrects the TPM buckets in the same step', async () => {
    const org = 'tpm';
    const rule = { capacity: 1000, perSecond: 1000 / 60 };
    const draw = { org, key: 'tpm:org:tpm', cost: 600, rule };
    assert.equal((await store.admit({ draws: [draw], hold: null, now: Date.now() })).ok, true);
    // 600 counted up front, 100 reported: 500 given back, so 900 fit again.
    await store.settle({ org, holdId: randomUUID(), pico: 0n, allowance: null, at: new Date().toISOString(), record: '{}', corrections: [{ ...draw, cost: -500 }] });
    assert.equal((await store.admit({ draws: [{ ...draw, cost: 890 }], hold: null, now: Date.now() })).ok, true);
  });

  test('rate buckets are shared: all-or-nothing across draws', async () => {
    const rule = { capacity: 3, perSecond: 3 / 60 };
    const draws = [
      { org: 'rl', key: 'rpm:key:k1', cost: 1, rule },
      { org: 'rl', key: 'rpm:org:rl', cost: 1, rule: { capacity: 5, perSecond: 5 / 60 } },
    ];
    const taken = [];
    for (let i = 0; i < 4; i++) taken.push((await store.admit({ draws, hold: null, now: Date.now() })).ok);
    assert.deepEqual(taken, [true, true, true, false]);
    // The key bucket refused; the org bucket was not charged for the refused draw.
    const other = await store.admit({ draws: [{ org: 'rl', key: 'rpm:key:k2', cost: 2, rule }, draws[1]!], hold: null, now: Date.now() });
    assert.equal(other.ok, true);
    const full = await store.admit({ draws: [{ ...draws[1]!, cost: 2 }], hold: null, now: Date.now() });
    assert.equal(full.ok, false);
  });
});
