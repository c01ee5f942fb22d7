/**
 * Usage an upstream reports is made whole before it is charged: fractions, strings, negatives, NaN
 * and absurd sizes from a buggy or hostile upstream never crash the meter or undercharge.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { charge } from '../../src/metering/pricing/bill.ts';
import { reported, tokenCount } from '../../src/metering/usage.ts';
import { loadTestCatalog } from '../support/catalog.ts';

test('token counts: fractions round up, numeric strings count, the rest is 0, capped at 2^53 − 1', () => {
  const cases: Array<[unknown, number]> = [
    [12, 12],
    [12.2, 13],
    ['40', 40],
    ['7.5', 8],
    [-3, 0],
    [Number.NaN, 0],
    [Number.POSITIVE_INFINITY, 0],
    ['', 0],
    ['ten', 0],
    [null, 0],
    [{}, 0],
    [1e300, Number.MAX_SAFE_INTEGER],
  ];
  for (const [input, want] of cases) assert.equal(tokenCount(input), want, String(input));
});

test('a hostile usage object is charged exactly, without throwing', () => {
  const model = loadTestCatalog().resolve('gpt-4.1-nano').model;
  const usage = reported(10.5 as number, '20' as unknown as number, -1, Number.NaN);
  assert.deepEqual([usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.reasoning_tokens], [11, 20, 0, 0]);
  const result = charge({ usage, model, billing: 'managed', operation: 'chat', served: true, at: Date.now() });
  assert.equal(typeof result.pico, 'bigint');
  assert.ok(result.pico > 10n ** 12n);
});
