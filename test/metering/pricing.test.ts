/**
 * The generalised money rule (README, "Money"), on hand-made models whose figures make every result
 * an exact decimal written out below from the rule itself:
 *   credits = 1 + Σ_class tokens × rate / 1e6 × 1.05 × 1000 + Σ_unit count × price × 1.05 × 1000
 * A class without a rate takes the input (input classes) or output rate; the set in force at the
 * request's start, the service tier served and the context tier the input is strictly above apply.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelRecord } from '../../src/catalog/types.ts';
import { formatCredits } from '../../src/metering/credits.ts';
import { charge } from '../../src/metering/pricing/bill.ts';
import { compilePrices } from '../../src/metering/pricing/compile.ts';
import { worstCasePico } from '../../src/metering/pricing/worst-case.ts';
import { worstCaseCharge } from '../../src/admission/estimate.ts';
import { sealCompact } from '../../src/metering/ledger/compact.ts';
import { canonicalJson, isCanonical, sealEntry } from '../../src/metering/ledger/entry.ts';
import { usageRecord } from './ledger/records.ts';
import type { Usage } from '../../src/metering/usage.ts';

function model(prices: Partial<ModelRecord>): ModelRecord {
  return {
    model_id: 'test-model', name: 'Test', vendor: 'test', provider: 'openai', upstream_model: 'test-model', operations: ['chat'],
    context_window: 2_000_000, max_output_tokens: 1000, knowledge_cutoff: null, quality_score: 1, latency_score: 1, vision: false,
    tools: false, structured_output: false, embedding: false, embedding_dimension: null, status: 'active', replacement_id: null,
    deprecation_date: null, sunset_date: null, input_usd_per_1m: 2, output_usd_per_1m: 10,
    ...prices,
  };
}

function usage(prompt: number, completion: number, extra: Partial<Usage> = {}): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, cached_tokens: 0, reasoning_tokens: 0, source: 'reported', ...extra };
}

const NOW = Date.parse('2026-12-07T12:00:00Z');

function credits(m: ModelRecord | null, u: Usage, at = NOW, billing: 'managed' | 'byok' = 'managed'): string {
  return formatCredits(charge({ usage: u, model: m, billing, operation: 'chat', served: true, at }).pico);
}

describe('token classes', () => {
  test('with only the two seed prices, every class is billed at input or output: the seed formula', () => {
    const m = model({});
    // 1 + (1000 × 2 + 500 × 10) / 1e6 × 1050 = 1 + 7000 × 0.00105 = 8.35
    const u = usage(1000, 500, { cached_tokens: 600, cache_write_5m_tokens: 100, reasoning_tokens: 200 });
    assert.equal(credits(m, u), '8.35');
    assert.equal(credits(m, usage(1000, 500)), '8.35');
  });

  test('cache read, cache writes by TTL and reasoning at their own rates', () => {
    const m = model({ cache_read_usd_per_1m: 0.2, cache_write_5m_usd_per_1m: 2.5, cache_write_1h_usd_per_1m: 4, reasoning_usd_per_1m: 12 });
    const u = usage(10_000, 3_000, { cached_tokens: 6_000, cache_write_5m_tokens: 2_000, cache_write_1h_tokens: 1_000, reasoning_tokens: 1_000 });
    // input 1000 × 2 = 2000; cache_read 6000 × 0.2 = 1200; write 5m 2000 × 2.5 = 5000; write 1h 1000 × 4 = 4000;
    // output 2000 × 10 = 20000; reasoning 1000 × 12 = 12000 → 44200 micro-USD … × 1.05 × 1000 / 1e6 = 46.41 → + 1
    const result = charge({ usage: u, model: m, billing: 'managed', operation: 'chat', served: true, at: NOW });
    assert.equal(formatCredits(result.pico), '47.41');
    assert.deepEqual(result.bill?.usage, { input: 1000, cache_read: 6000, cache_write_5m: 2000, cache_write_1h: 1000, output: 2000, reasoning: 1000 });
    assert.deepEqual(result.bill?.rates, { input: '2', cache_read: '0.2', cache_write_5m: '2.5', cache_write_1h: '4', output: '10', reasoning: '12' });
    assert.deepEqual(result.bill?.credits, { run: '1', input: '2.1', cache_read: '1.26', cache_write_5m: '5.25', cache_write_1h: '4.2', output: '21', reasoning: '12.6' });
    assert.equal(result.bill?.rate, 'test-model@base');
  });

  test('counts that are not whole (a fraction, NaN, a string) are made whole, never a crash: fractions round up', () => {
    const odd = { ...usage(10.5, 3), cached_tokens: Number.NaN, cache_write_5m_tokens: '2' as unknown as number, units: { character: 2.2, search: -1 } };
    const result = charge({ usage: odd, model: model({ unit_prices: { character: 0.000015 } }), billing: 'managed', operation: 'chat', served: true, at: NOW });
    assert.deepEqual(result.bill?.usage, { input: 9, cache_write_5m: 2, output: 3, character: 3 });
  });

  test('a provider reporting more cached tokens than prompt tokens cannot make a class negative', () => {
    const result = charge({ usage: usage(100, 0, { cached_tokens: 500 }), model: model({ cache_read_usd_per_1m: 1 }), billing: 'managed', operation: 'chat', served: true, at: NOW });
    assert.deepEqual(result.bill?.usage, { cache_read: 100 });
  });
});

describe('context tiers', () => {
  const m = model({ context_tiers: [{ above_input_tokens: 200_000, input_usd_per_1m: 4, output_usd_per_1m: 15, cache_read_usd_per_1m: 0.4 }] });

  test('exactly at the threshold: base prices; one token above: the whole request at the tier', () => {
    // 200000 × 2 + 1000 × 10 = 410000 micro → 430.5 + 1
    assert.equal(credits(m, usage(200_000, 1000)), '431.5');
    // 200001 × 4 + 1000 × 15 = 815004 → 855.7542 + 1
    assert.equal(credits(m, usage(200_001, 1000)), '856.7542');
  });

  test('the threshold counts input with the cache; the tier has its own class rates', () => {
    // 150001 cached + 50000 fresh = 200001 > 200000: 50000 × 4 + 150001 × 0.4 + 0 = 260000.4 micro → 273.00042 + 1
    const result = charge({ usage: usage(200_001, 0, { cached_tokens: 150_001 }), model: m, billing: 'managed', operation: 'chat', served: true, at: NOW });
    assert.equal(formatCredits(result.pico), '274.00042');
    assert.equal(result.bill?.rate, 'test-model@base>200000');
  });
});

describe('service tiers, as served', () => {
  const m = model({ service_tiers: { flex: { input_usd_per_1m: 1, output_usd_per_1m: 5 }, priority: { input_usd_per_1m: 4, output_usd_per_1m: 20 } } });

  test('the tier the provider reports prices the request; default, standard or an unpriced tier take the base', () => {
    // 1000 × 1 + 1000 × 5 = 6000 → 6.3 + 1
    assert.equal(credits(m, usage(1000, 1000, { service_tier: 'flex' })), '7.3');
    // 1000 × 4 + 1000 × 20 = 24000 → 25.2 + 1
    assert.equal(credits(m, usage(1000, 1000, { service_tier: 'priority' })), '26.2');
    for (const tier of ['default', 'standard', 'scale', undefined]) {
      // 1000 × 2 + 1000 × 10 = 12000 → 12.6 + 1
      assert.equal(credits(m, usage(1000, 1000, tier === undefined ? {} : { service_tier: tier })), '13.6', String(tier));
    }
    const flex = charge({ usage: usage(1, 1, { service_tier: 'flex' }), model: m, billing: 'managed', operation: 'chat', served: true, at: NOW });
    assert.equal(flex.bill?.rate, 'test-model@base/flex');
    assert.equal(flex.bill?.service_tier, 'flex');
  });
});

describe('dated prices', () => {
  const m = model({ price_changes: [{ effective_from: '2027-01-01', input_usd_per_1m: 3, output_usd_per_1m: 12 }] });
  const change = Date.parse('2027-01-01T00:00:00Z');

  test('the price in force at the request start applies, on each side of the date', () => {
    // before: 1000 × 2 + 1000 × 10 = 12000 → 13.6; from the date: 1000 × 3 + 1000 × 12 = 15000 → 15.75 + 1
    assert.equal(credits(m, usage(1000, 1000), change - 1), '13.6');
    assert.equal(credits(m, usage(1000, 1000), change), '16.75');
    assert.equal(charge({ usage: usage(1, 1), model: m, billing: 'managed', operation: 'chat', served: true, at: change }).bill?.rate, 'test-model@2027-01-01');
  });

  test('a change restates the whole set: class rates of the base are not inherited', () => {
    const withCache = model({ cache_read_usd_per_1m: 0.2, price_changes: [{ effective_from: '2027-01-01', input_usd_per_1m: 3, output_usd_per_1m: 12 }] });
    // after the change, cache reads take the new input rate: 1000 × 3 → 3.15 + 1
    assert.equal(credits(withCache, usage(1000, 0, { cached_tokens: 1000 }), change), '4.15');
  });
});

describe('unpriced and units', () => {
  test('an unpriced model: tokens meter 0, the managed turn still costs the run credit; BYOK costs nothing', () => {
    const unpriced = model({ input_usd_per_1m: null, output_usd_per_1m: null });
    const result = charge({ usage: usage(1000, 1000), model: unpriced, billing: 'managed', operation: 'chat', served: true, at: NOW });
    assert.deepEqual([formatCredits(result.pico), result.unpriced, result.bill?.rate], ['1', true, 'test-model@unpriced']);
    assert.equal(credits(null, usage(10, 10)), '1', 'a model the catalog lacks: the run credit');
    assert.equal(credits(unpriced, usage(1000, 1000), NOW, 'byok'), '0');
    assert.equal(credits(unpriced, usage(0, 0)), '0', 'nothing consumed is not a run');
  });

  test('units by the most specific price: size and quality, then size, then the unit', () => {
    const images = model({ input_usd_per_1m: null, output_usd_per_1m: null, unit_prices: { image: 0.04, 'image:1024x1792:hd': 0.12, character: 0.000015 } });
    // 2 × 0.12 = 0.24 USD → 252 credits + 1
    assert.equal(credits(images, usage(0, 0, { units: { 'image:1024x1792:hd': 2 } })), '253');
    // unknown size falls back to `image`: 3 × 0.04 = 0.12 → 126 + 1
    assert.equal(credits(images, usage(0, 0, { units: { 'image:512x512:standard': 3 } })), '127');
    // 1000 characters × 0.000015 = 0.015 → 15.75 + 1
    const speech = charge({ usage: usage(0, 0, { units: { character: 1000 } }), model: images, billing: 'managed', operation: 'chat', served: true, at: NOW });
    assert.deepEqual([formatCredits(speech.pico), speech.bill?.rates], ['16.75', { character: '0.000015' }]);
    const unknown = charge({ usage: usage(0, 0, { units: { audio_second: 10 } }), model: images, billing: 'managed', operation: 'chat', served: true, at: NOW });
    assert.deepEqual([formatCredits(unknown.pico), unknown.unpriced], ['1', true], 'a unit without a price meters 0, flagged');
    // A token-priced model that also reports its images (gpt-image): the tokens are the bill, the images a record.
    const tokens = charge({ usage: usage(1000, 0, { units: { image: 1 } }), model: model({}), billing: 'managed', operation: 'chat', served: true, at: NOW });
    // 1000 × 2 = 2000 → 2.1 + 1
    assert.deepEqual([formatCredits(tokens.pico), tokens.unpriced, tokens.bill?.usage], ['3.1', false, { input: 1000, image: 1 }]);
  });
});

describe('holds: the dearest class and tier the request can reach', () => {
  test('input at the dearest input class, output at the dearest output class, over service tiers', () => {
    const m = model({ cache_write_1h_usd_per_1m: 4, reasoning_usd_per_1m: 12, service_tiers: { priority: { input_usd_per_1m: 3, output_usd_per_1m: 11 } } });
    // standard: 1000 × 4 + 100 × 12 = 5200; priority: 1000 × 3 + 100 × 11 = 4100 → 5200 micro → 5.46 + 1
    assert.equal(formatCredits(worstCasePico({ model: m, at: NOW, inputTokens: 1000, outputTokens: 100, units: {} })), '6.46');
  });

  test('a context tier counts only when the input bound is above its threshold', () => {
    const m = model({ context_tiers: [{ above_input_tokens: 1000, input_usd_per_1m: 4, output_usd_per_1m: 20 }] });
    // 1000 × 2 + 100 × 10 = 3000 → 3.15 + 1; 1001 × 4 + 100 × 20 = 6004 → 6.3042 + 1
    assert.equal(formatCredits(worstCasePico({ model: m, at: NOW, inputTokens: 1000, outputTokens: 100, units: {} })), '4.15');
    assert.equal(formatCredits(worstCasePico({ model: m, at: NOW, inputTokens: 1001, outputTokens: 100, units: {} })), '7.3042');
  });

  test('requested units at their dearest variant; an unpriced model holds the run credit', () => {
    const m = model({ input_usd_per_1m: null, output_usd_per_1m: null, unit_prices: { image: 0.04, 'image:1024x1792:hd': 0.12 } });
    // 2 × 0.12 → 252 + 1
    assert.equal(formatCredits(worstCasePico({ model: m, at: NOW, inputTokens: 10, outputTokens: 0, units: { image: 2 } })), '253');
    assert.equal(formatCredits(worstCasePico({ model: model({ input_usd_per_1m: null, output_usd_per_1m: null }), at: NOW, inputTokens: 10, outputTokens: 10, units: {} })), '1');
  });
});

describe('the stamp as the ledger writes it', () => {
  test('built in canonical order (units and service tier included), so both line formats write it on their fast path, canonical', () => {
    const m = model({ cache_read_usd_per_1m: 0.2, unit_prices: { image: 0.04, web_search_call: 0.01 } });
    const usages = [
      usage(1000, 500, { cached_tokens: 600, reasoning_tokens: 100 }),
      usage(10, 10, { cache_write_1h_tokens: 5, audio_output_tokens: 3, service_tier: 'flex', units: { web_search_call: 2, 'image:1024x1024:hd': 1 } }),
    ];
    for (const u of usages) {
      const bill = charge({ usage: u, model: m, billing: 'managed', operation: 'chat', served: true, at: NOW }).bill!;
      assert.equal(isCanonical(bill), true, JSON.stringify(bill));
      assert.equal(JSON.stringify(bill), canonicalJson(bill));
      const body = { ...usageRecord(1), type: 'charge' as const, period: null, from_allowance: '0', from_wallet: '1', bill };
      for (const { line } of [sealEntry(body, 9, 'a'.repeat(64)), sealCompact(body, 9, 'a'.repeat(64))]) {
        const text = line.slice(0, -1);
        const member = text.includes('"hash":"') ? ',"hash":"' : ',"h":"';
        const withoutHash = `${text.slice(0, text.lastIndexOf(member))}}`;
        assert.equal(withoutHash, canonicalJson(JSON.parse(withoutHash)), 'the whole line canonical');
      }
    }
  });
});

describe('holds for unit-priced operations', () => {
  test('images by n, speech by the input characters, rerank by searches of 100 documents', () => {
    const m = model({ input_usd_per_1m: null, output_usd_per_1m: null, unit_prices: { image: 0.04, character: 0.000015, search: 0.002 } });
    const hold = (operation: 'images' | 'audio_speech' | 'rerank', body: unknown) =>
      formatCredits(worstCaseCharge({ model: m, operation, inputBytes: 0, maxTokens: null, body, at: NOW }, ['managed']));
    // 3 × 0.04 = 0.12 USD → 126 + 1
    assert.equal(hold('images', { n: 3 }), '127');
    // 2000 characters × 0.000015 = 0.03 → 31.5 + 1
    assert.equal(hold('audio_speech', { input: 'x'.repeat(2000) }), '32.5');
    // 250 documents: 3 searches × 0.002 = 0.006 → 6.3 + 1
    assert.equal(hold('rerank', { query: 'q', documents: Array.from({ length: 250 }, () => 'd') }), '7.3');
    assert.equal(formatCredits(worstCaseCharge({ model: m, operation: 'images', inputBytes: 0, maxTokens: null, body: {}, at: NOW }, ['byok'])), '0');
  });
});

describe('the catalog refuses prices it cannot bill exactly', () => {
  const problems = (prices: Partial<ModelRecord>) => compilePrices(model(prices)).problems.join('\n');

  test('overlapping or unordered dates', () => {
    const twice = problems({ price_changes: [{ effective_from: '2027-01-01', input_usd_per_1m: 1, output_usd_per_1m: 1 }, { effective_from: '2027-01-01', input_usd_per_1m: 2, output_usd_per_1m: 2 }] });
    assert.match(twice, /price_changes\[1\]\.effective_from: .*strictly after the one before/);
    assert.match(problems({ price_changes: [{ effective_from: 'soon', input_usd_per_1m: 1, output_usd_per_1m: 1 }] }), /'soon' is not a date/);
  });

  test('a tier without a base price', () => {
    const text = problems({ input_usd_per_1m: null, output_usd_per_1m: null, service_tiers: { flex: { input_usd_per_1m: 1, output_usd_per_1m: 2 } } });
    assert.match(text, /tiers need the base input_usd_per_1m and output_usd_per_1m prices/);
  });

  test('more decimals than an exact rate allows', () => {
    assert.match(problems({ cache_read_usd_per_1m: 0.0000001 }), /cache_read_usd_per_1m: a price in USD per 1M tokens is a number ≥ 0 with at most 6 decimals/);
    assert.match(problems({ unit_prices: { character: 1e-13 } }), /unit_prices\.character: a unit price in USD is a number ≥ 0 with at most 12 decimals/);
    assert.match(problems({ context_tiers: [{ above_input_tokens: 5, input_usd_per_1m: 1, output_usd_per_1m: 1 }, { above_input_tokens: 5, input_usd_per_1m: 2, output_usd_per_1m: 2 }] }), /two context tiers above 5/);
    assert.equal(problems({ unit_prices: { character: 0.000000000001 } }), '');
  });
});
