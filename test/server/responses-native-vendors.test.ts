/**
 * POST /v1/responses natively on the OpenAI-wire vendors whose documented paths list `/responses`
 * (catalog data: xAI, Groq, Fireworks, OpenRouter beside OpenAI and Azure), with the official openai
 * SDK against the fake upstream. xAI replays its own Responses recordings (xai-code-execution-tool.1.json,
 * xai-text-streaming.1.chunks.txt); Groq, Fireworks and OpenRouter document their Responses API as
 * OpenAI's wire ("fully compatible with OpenAI's Responses API"), and no recording of theirs exists,
 * so Azure OpenAI's recording of that wire (azure-text.1.json) stands in for them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { chunkLines, fixtureJson, fixtureText, sseFrames } from '../support/fixtures.ts';
import type { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../support/gateway.ts';
import { expectedCredits } from '../support/expect.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { servesResponses } from '../../src/providers/responses/native.ts';
import type { Target } from '../../src/routing/target.ts';

const GROK = 'grok-4.3';

describe('POST /v1/responses natively on the vendors that serve it (openai SDK)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const model = (id: string) => gw.catalog().resolve(id).model;
  const lastCharge = async () => (await gw.usage()).at(-1)!;
  /** Responses usage: output_tokens include the reasoning ones, cached tokens are inside input_tokens. */
  const assertCharged = (record: any, id: string, usage: any) => {
    assert.equal(record.prompt_tokens, usage.input_tokens);
    assert.equal(record.completion_tokens, usage.output_tokens, 'reasoning is inside output_tokens: not added again');
    assert.equal(record.usage_source, 'reported');
    const classes = { cached: usage.input_tokens_details.cached_tokens, reasoning: usage.output_tokens_details.reasoning_tokens };
    const expected = expectedCredits(model(id), usage.input_tokens, usage.output_tokens, classes);
    assert.ok(Math.abs(Number(record.credits) - expected) < 1e-9, `credits ${record.credits}, expected ${expected}`);
  };

  useGateway((u, g) => ((upstream = u), (gw = g)));

  test('which providers serve Responses natively is their catalog paths, nothing else', () => {
    const native = [...loadTestCatalog().providers.values()].filter((provider) => servesResponses({ provider } as Target)).map((p) => p.name);
    assert.deepEqual(native.sort(), ['azure', 'fireworks', 'groq', 'openai', 'openrouter', 'xai']);
  });

  test('xAI: responses.create reaches /v1/responses with the body as sent, the upstream model and the managed key', async () => {
    upstream.reset();
    const path = 'xai/xai-code-execution-tool.1.json';
    upstream.on('POST', '/v1/responses', { body: fixtureText(path) });
    const recorded = fixtureJson(path);
    const request = { model: GROK, input: 'What is the 10th Fibonacci number? Run code.', tools: [{ type: 'code_interpreter' as const, container: { type: 'auto' as const } }] };
    const response = await gw.openai().responses.create(request);
    assert.equal(response.id, recorded.id);
    assert.equal(response.output_text, '55');
    const seen = upstream.last();
    assert.equal(seen.path, '/v1/responses', 'native, not /v1/chat/completions');
    assert.deepEqual(seen.json(), { ...request, model: model(GROK).upstream_model }, 'a built-in tool a bridge would refuse goes through');
    assert.equal(seen.headers.authorization, `Bearer ${providerKey('xai')}`);
    const record = await lastCharge();
    assert.equal(record.provider, 'xai');
    assertCharged(record, GROK, recorded.usage);
  });

  test('xAI, streamed: every recorded event reaches the SDK; usage from response.completed', async () => {
    upstream.reset();
    const path = 'xai/xai-text-streaming.1.chunks.txt';
    const lines = chunkLines(path);
    // The recording keeps the data payloads only: replayed as `data:` frames, as recorded.
    upstream.on('POST', '/v1/responses', { frames: sseFrames(lines) });
    const recorded = lines.map((l) => JSON.parse(l));
    const events: any[] = [];
    const stream = gw.openai().responses.stream({ model: GROK, input: 'What is specifically notable about the style of Sonoran food?' });
    stream.on('event', (e) => events.push(e));
    const final = await stream.finalResponse();
    assert.equal(upstream.last().path, '/v1/responses');
    assert.equal(upstream.last().json().stream, true);
    assert.deepEqual(events.map((e) => e.type), recorded.map((e) => e.type));
    const completed = recorded.at(-1).response;
    assert.equal(final.output_text, completed.output.find((o: any) => o.type === 'message').content[0].text);
    const record = await lastCharge();
    assert.equal(record.outcome, 'ok');
    assertCharged(record, GROK, completed.usage);
  });

  for (const [provider, id, upstreamPath] of [
    ['groq', 'llama-3.3-70b-versatile', '/openai/v1/responses'],
    ['fireworks', 'fireworks/gpt-oss-120b', '/inference/v1/responses'],
    ['openrouter', 'openrouter/gpt-6.1-terra', '/api/v1/responses'],
  ] as const) {
    test(`${provider}: responses.create goes to its ${upstreamPath}, not its chat API`, async () => {
      upstream.reset();
      upstream.on('POST', upstreamPath, { body: fixtureText('azure/azure-text.1.json') });
      const recorded = fixtureJson('azure/azure-text.1.json');
      const response = await gw.openai().responses.create({ model: id, input: 'Say a word', max_output_tokens: 16 });
      assert.equal(response.output_text, 'Word');
      assert.equal(upstream.last().path, upstreamPath);
      assert.deepEqual(upstream.last().json(), { model: model(id).upstream_model, input: 'Say a word', max_output_tokens: 16 });
      assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey(provider)}`);
      const record = await lastCharge();
      assert.equal(record.provider, provider);
      assertCharged(record, id, recorded.usage);
    });
  }

  test('passthrough: the openai SDK’s responses.create against Groq’s own path is forwarded and metered', async () => {
    upstream.reset();
    upstream.on('POST', '/openai/v1/responses', { body: fixtureText('azure/azure-text.1.json') });
    const sdk = new OpenAI({ apiKey: CALLER_KEYS.member, baseURL: `${gw.url}/groq/openai/v1`, maxRetries: 0 });
    const response = await sdk.responses.create({ model: 'llama-3.3-70b-versatile', input: 'Say a word' });
    assert.equal(response.output_text, 'Word');
    assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('groq')}`);
    const record = await lastCharge();
    assert.equal(record.provider, 'groq');
    assert.equal(record.prompt_tokens, fixtureJson('azure/azure-text.1.json').usage.input_tokens);
  });

  // No Together chat recording exists; OpenAI's (the wire Together speaks) stands in.
  test('a vendor that does not list /responses stays bridged: Together gets a chat completion', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { body: fixtureText('openai/openai-text.json') });
    const id = [...gw.catalog().models.values()].find((m) => m.provider === 'together' && m.operations.includes('chat') && m.status === 'active')!.model_id;
    const response = await gw.openai().responses.create({ model: id, input: 'Hello' });
    assert.equal(response.object, 'response');
    assert.equal(upstream.last().path, '/v1/chat/completions');
  });
});
