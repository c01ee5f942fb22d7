/**
 * Labels that tell the truth (issue 17, item 11): a failed request counts under the provider that
 * failed it, the GenAI metrics carry the model the caller named and the model that served, and a
 * native passthrough stream has a time to first chunk like a unified one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { parseMetrics, total, value, type Sample } from '../support/prometheus.ts';

describe('metric labels after mixed traffic', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let s: Sample[];
  const streamLines = chunkLines('openai/openai-text.chunks.txt');

  before(async () => {
    upstream = await FakeUpstream.start();
    // One attempt per request: the groq failure is the answer, not a fallback.
    gw = await startTestGateway({ upstream, config: { routing: { max_attempts: 1 } } });
    upstream.on('POST', '/v1/chat/completions', (req) => (req.json().stream ? { frames: sseFrames(streamLines, { done: true }) } : { json: fixtureJson('openai/openai-text.json') }));
    upstream.on('POST', '/openai/v1/chat/completions', { status: 503, json: { error: { message: 'over capacity', type: 'server_error' } } });
    const client = gw.openai();
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'groq/gpt-oss-120b', messages: [{ role: 'user', content: 'Hi' }] }).catch(() => null);
    // A deprecated id, served by its replacement.
    for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    // A native OpenAI stream through the passthrough.
    const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-nano', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    assert.equal(res.status, 200);
    await res.text();
    s = parseMetrics(await gw.metrics());
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('an upstream 5xx counts under the provider and model that failed, not provider="none"', () => {
    assert.equal(value(s, 'tollbooth_requests_total', { api: 'unified', provider: 'groq', model: 'groq/gpt-oss-120b', status_class: '5xx' }), 3);
    assert.equal(total(s, 'tollbooth_requests_total', { provider: 'none', status_class: '5xx' }), 0);
  });

  test('gen_ai_request_model is the id the caller named; gen_ai_response_model the model that served', () => {
    const asked = { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-4o-mini' };
    assert.equal(value(s, 'gen_ai_client_operation_duration_seconds_count', { ...asked, gen_ai_response_model: 'gpt-6-luna', error_type: '' }), 2);
    assert.equal(value(s, 'gen_ai_client_token_usage_count', { ...asked, gen_ai_response_model: 'gpt-6-luna', gen_ai_token_type: 'input' }), 2);
    assert.equal(total(s, 'gen_ai_client_operation_duration_seconds_count', { gen_ai_request_model: 'gpt-6-luna' }), 0, 'nothing asked for gpt-6-luna by name');
    const failed = { gen_ai_provider_name: 'groq', gen_ai_request_model: 'groq/gpt-oss-120b', gen_ai_response_model: 'groq/gpt-oss-120b' };
    assert.equal(total(s, 'gen_ai_client_operation_duration_seconds_count', failed), 3);
  });

  test('a native passthrough stream records its time to first chunk', () => {
    const labels = { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-4.1-nano', gen_ai_response_model: 'gpt-4.1-nano' };
    assert.equal(total(s, 'gen_ai_client_operation_time_to_first_chunk_seconds_count', { gen_ai_provider_name: 'openai' }), 1, 'the one stream, a native one');
    assert.equal(value(s, 'gen_ai_client_operation_time_to_first_chunk_seconds_count', labels), 1);
    assert.equal(value(s, 'tollbooth_requests_total', { api: 'native', provider: 'openai', model: 'gpt-4.1-nano', status_class: '2xx' }), 1);
  });
});
