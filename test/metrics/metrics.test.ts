/**
 * /metrics after known traffic: exact counter and histogram values, computed here from the
 * recordings, and no label value that a caller could have chosen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';
import { parseMetrics, total, value } from '../support/prometheus.ts';

describe('Prometheus metrics after known traffic', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const text = fixtureJson('openai/openai-text.json');
  const streamLines = chunkLines('openai/openai-text.chunks.txt');
  const streamUsage = JSON.parse(streamLines.at(-1)!).usage;
  const embedding = fixtureJson('openai/openai-embedding.json');

  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startTestGateway({ upstream });
    upstream.on('POST', '/v1/chat/completions', (req) => (req.json().stream ? { frames: sseFrames(streamLines, { done: true }) } : { json: text }));
    upstream.on('POST', '/v1/embeddings', { json: embedding });
    const client = gw.openai(CALLER_KEYS.member, { defaultHeaders: { 'x-request-id': 'caller-chosen-id', 'user-agent': 'caller-agent/1.0' } });
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hi' }] });
    const stream = await client.chat.completions.create({ model: 'gpt-6-luna', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    for await (const _ of stream);
    await client.embeddings.create({ model: 'text-embedding-3-small', input: 'caller text' });
    await client.chat.completions.create({ model: 'caller-invented-model', messages: [{ role: 'user', content: 'Hi' }] }).catch(() => {});
    await fetch(`${gw.url}/v1/caller/invented/path`, { headers: { authorization: `Bearer ${CALLER_KEYS.member}` } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('request counters are exact', async () => {
    const s = parseMetrics(await gw.metrics());
    assert.equal(value(s, 'tollbooth_requests_total', { api: 'unified', operation: 'chat', provider: 'openai', model: 'gpt-6-luna', status_class: '2xx' }), 4);
    assert.equal(value(s, 'tollbooth_requests_total', { api: 'unified', operation: 'embeddings', provider: 'openai', model: 'text-embedding-3-small', status_class: '2xx' }), 1);
    assert.equal(value(s, 'tollbooth_requests_total', { api: 'unified', operation: 'chat', provider: 'none', model: 'none', status_class: '4xx' }), 1, 'the unknown model');
    assert.equal(value(s, 'tollbooth_requests_total', { api: 'other', status_class: '4xx' }), 1, 'the unknown path');
    assert.equal(value(s, 'tollbooth_upstream_attempts_total', { provider: 'openai', model: 'gpt-6-luna', result: 'served' }), 4);
  });

  test('token histograms hold exactly the recordings’ usage', async () => {
    const s = parseMetrics(await gw.metrics());
    const chat = { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-6-luna' };
    assert.equal(value(s, 'gen_ai_client_token_usage_count', { ...chat, gen_ai_token_type: 'input' }), 4);
    assert.equal(value(s, 'gen_ai_client_token_usage_sum', { ...chat, gen_ai_token_type: 'input' }), 3 * text.usage.prompt_tokens + streamUsage.prompt_tokens);
    assert.equal(value(s, 'gen_ai_client_token_usage_sum', { ...chat, gen_ai_token_type: 'output' }), 3 * text.usage.completion_tokens + streamUsage.completion_tokens);
    const embed = { gen_ai_operation_name: 'embeddings', gen_ai_provider_name: 'openai', gen_ai_request_model: 'text-embedding-3-small' };
    assert.equal(value(s, 'gen_ai_client_token_usage_sum', { ...embed, gen_ai_token_type: 'input' }), embedding.usage.prompt_tokens);
    assert.equal(value(s, 'gen_ai_client_token_usage_sum', { ...embed, gen_ai_token_type: 'output' }), 0);
    const le = (bound: string) => value(s, 'gen_ai_client_token_usage_bucket', { ...chat, gen_ai_token_type: 'output', le: bound });
    assert.equal(le('256'), 0, `${text.usage.completion_tokens} and ${streamUsage.completion_tokens} output tokens are both above 256`);
    assert.equal(le('1024'), 4);
  });

  test('durations and time to first chunk are observed once per call', async () => {
    const s = parseMetrics(await gw.metrics());
    const chat = { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-6-luna' };
    assert.equal(value(s, 'gen_ai_client_operation_duration_seconds_count', { ...chat, error_type: '' }), 4);
    assert.equal(value(s, 'gen_ai_client_operation_time_to_first_chunk_seconds_count', chat), 1, 'only the streamed call has a first chunk');
    assert.equal(total(s, 'tollbooth_gateway_overhead_seconds_count', { api: 'unified' }), 5);
  });

  test('credits charged equal the sum of the usage records', async () => {
    const s = parseMetrics(await gw.metrics());
    const records = await gw.usage();
    const expected = records.reduce((n, r) => n + Number(r.credits), 0);
    assert.ok(Math.abs(total(s, 'tollbooth_credits_charged_total', { org: 'acme' }) - expected) < 1e-9);
  });

  test('no label value comes from the caller', async () => {
    const s = parseMetrics(await gw.metrics());
    const values = new Set(s.flatMap((x) => Object.values(x.labels)));
    for (const chosen of ['caller-invented-model', 'caller-chosen-id', 'caller-agent/1.0', '/v1/caller/invented/path', 'caller text', CALLER_KEYS.member]) {
      assert.ok(![...values].some((v) => v.includes(chosen)), `label value from the caller: ${chosen}`);
    }
    const catalog = gw.catalog();
    for (const x of s) {
      for (const key of ['model', 'gen_ai_request_model', 'gen_ai_response_model', 'requested_model', 'served_model']) {
        const v = x.labels[key];
        if (v !== undefined) assert.ok(v === 'none' || v === 'unknown' || catalog.models.has(v), `${x.name} ${key}=${v} is a catalog id`);
      }
      const provider = x.labels.provider ?? x.labels.gen_ai_provider_name;
      if (provider !== undefined) assert.ok(provider === 'none' || catalog.providers.has(provider), `${x.name} provider=${provider}`);
    }
  });
});
