/** Deprecation routing over a hand-made model table: chains, guards, and the errors a caller sees. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_REPLACEMENT_DEPTH, resolveModel } from '../../src/catalog/deprecation.ts';
import type { ModelRecord } from '../../src/catalog/types.ts';

function model(id: string, status: ModelRecord['status'], replacement: string | null = null): ModelRecord {
  return {
    model_id: id, name: id, vendor: 'v', provider: 'openai', upstream_model: id, operations: ['chat'], context_window: 1,
    max_output_tokens: null, knowledge_cutoff: null, quality_score: 1, latency_score: 1, vision: false, tools: false,
    structured_output: false, embedding: false, embedding_dimension: null, input_usd_per_1m: 1, output_usd_per_1m: 1,
    status, replacement_id: replacement, deprecation_date: null, sunset_date: null,
  };
}
const table = (...models: ModelRecord[]) => new Map(models.map((m) => [m.model_id, m]));

describe('deprecation resolution', () => {
  test('follows deprecated and maintenance models to an active one', () => {
    const r = resolveModel(table(model('a', 'deprecated', 'b'), model('b', 'maintenance', 'c'), model('c', 'active')), 'a');
    assert.equal(r.model.model_id, 'c');
    assert.deepEqual(r.chain, ['a', 'b', 'c']);
  });

  test('an active model with an announced replacement still serves itself', () => {
    assert.equal(resolveModel(table(model('a', 'active', 'b'), model('b', 'active')), 'a').model.model_id, 'a');
  });

  test('a deprecated model without replacement still serves (until it retires)', () => {
    assert.equal(resolveModel(table(model('a', 'deprecated')), 'a').model.model_id, 'a');
  });

  test('a retired model routes to its replacement, or is a 410 when it has none', () => {
    assert.equal(resolveModel(table(model('a', 'retired', 'b'), model('b', 'active')), 'a').model.model_id, 'b');
    assert.throws(() => resolveModel(table(model('a', 'retired')), 'a'), (e: any) => e.status === 410 && e.code === 'model_retired');
  });

  test('a cycle that slipped past validation is a clear 4xx, not a loop', () => {
    assert.throws(
      () => resolveModel(table(model('a', 'deprecated', 'b'), model('b', 'deprecated', 'a')), 'a'),
      (e: any) => e.status === 422 && e.code === 'deprecation_chain_unresolvable' && /loops back to 'a'/.test(e.message),
    );
  });

  test('a chain deeper than the limit is refused', () => {
    const models = Array.from({ length: MAX_REPLACEMENT_DEPTH + 3 }, (_, i) => model(`m${i}`, 'deprecated', `m${i + 1}`));
    models.push(model(`m${MAX_REPLACEMENT_DEPTH + 3}`, 'active'));
    assert.throws(() => resolveModel(table(...models), 'm0'), (e: any) => e.code === 'deprecation_chain_unresolvable' && /longer than/.test(e.message));
  });

  test('an unknown id is a 404', () => {
    assert.throws(() => resolveModel(table(), 'x'), (e: any) => e.status === 404 && e.code === 'model_not_found');
  });
});
