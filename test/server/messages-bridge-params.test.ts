/**
 * What the Messages bridge carries of `thinking`, `top_k` and `cache_control` (providers/messages/
 * request.ts): @anthropic-ai/sdk messages.create against the sidecar, routed to Gemini, OpenAI and
 * Cohere (and Nova on Bedrock), checking the body each upstream received. The answers replayed are
 * the providers' recordings; what is asserted is the request the bridge built.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { fixtureJson } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, type TestGateway, useGateway } from '../support/gateway.ts';
import { startBedrockGateway } from '../providers/bedrock/bedrock-gateway.ts';
import { signed } from '../providers/bedrock/bedrock-upstream.ts';

const GEMINI = 'gemini-3.8-flash';
const GPT = 'gpt-4.1-nano';
const COHERE = 'command-a-reasoning-08-2025';
const hello = [{ role: 'user' as const, content: 'Hello' }];
/** top_k is in the Messages API, but not in this SDK version's request types. */
const topK = (k: number) => ({ top_k: k }) as object;

describe('Messages bridge: thinking, top_k and cache_control by target', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const sdk = () => new Anthropic({ baseURL: gw.url, apiKey: CALLER_KEYS.member, maxRetries: 0 });
  const served = (id: string) => gw.catalog().resolve(id).model.upstream_model;

  useGateway((u, g) => ((upstream = u), (gw = g)));

  test('Gemini: thinking budget_tokens → thinkingConfig.thinkingBudget with thoughts included, top_k → topK', async () => {
    upstream.reset();
    upstream.on('POST', `/v1beta/models/${served(GEMINI)}:generateContent`, { json: fixtureJson('gemini/google-reasoning.json') });
    const message = await sdk().messages.create({ model: GEMINI, max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 }, ...topK(40), messages: hello });
    assert.equal(message.type, 'message');
    const config = upstream.last().json().generationConfig;
    assert.deepEqual(config.thinkingConfig, { thinkingBudget: 2048, includeThoughts: true });
    assert.equal(config.topK, 40);
    assert.equal(config.maxOutputTokens, 4096);
  });

  test('OpenAI: thinking → reasoning_effort by budget range (below 4096 low, below 16384 medium, else high); top_k dropped', async () => {
    for (const [budget, effort] of [
      [1024, 'low'],
      [4095, 'low'],
      [4096, 'medium'],
      [16383, 'medium'],
      [16384, 'high'],
      [19999, 'high'],
    ] as const) {
      upstream.reset();
      upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
      // Below the SDK's non-streaming max_tokens limit (~21k).
      await sdk().messages.create({ model: GPT, max_tokens: 20000, thinking: { type: 'enabled', budget_tokens: budget }, ...topK(40), messages: hello });
      const sent = upstream.last().json();
      assert.equal(sent.reasoning_effort, effort, `budget ${budget}`);
      assert.equal(sent.top_k, undefined, 'OpenAI chat has no top_k');
      assert.equal(sent.thinking, undefined, 'no Anthropic field reaches an OpenAI-wire vendor');
    }
  });

  test('OpenAI: cache_control marks are not forwarded (OpenAI caches prefixes on its own); disabled thinking asks for nothing', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    await sdk().messages.create({
      model: GPT,
      max_tokens: 64,
      thinking: { type: 'disabled' },
      system: [{ type: 'text', text: 'A long shared prefix.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello', cache_control: { type: 'ephemeral' } }] }],
    });
    const sent = upstream.last().json();
    assert.ok(!JSON.stringify(sent).includes('cache_control'));
    assert.equal(sent.reasoning_effort, undefined);
    assert.deepEqual(sent.messages, [
      { role: 'system', content: 'A long shared prefix.' },
      { role: 'user', content: 'Hello' },
    ]);
  });

  test('Cohere: thinking → thinking.token_budget exactly, top_k → k', async () => {
    upstream.reset();
    upstream.on('POST', '/v2/chat', { json: fixtureJson('cohere/cohere-reasoning.json') });
    await sdk().messages.create({ model: COHERE, max_tokens: 8192, thinking: { type: 'enabled', budget_tokens: 3000 }, ...topK(20), messages: hello });
    const sent = upstream.last().json();
    assert.deepEqual(sent.thinking, { type: 'enabled', token_budget: 3000 });
    assert.equal(sent.k, 20);
  });
});

describe('Messages bridge to Bedrock Converse: top_k and thinking in additionalModelRequestFields', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startBedrockGateway({ upstream });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('Nova 2: top_k → inferenceConfig.topK, a thinking budget → the effort whose range holds it', async () => {
    upstream.reset();
    upstream.on('POST', '/model/us.amazon.nova-2-lite-v1%3A0/converse', signed({ json: fixtureJson('bedrock/amazon-bedrock-text.json') }));
    const sdk = new Anthropic({ baseURL: gw.url, apiKey: CALLER_KEYS.member, maxRetries: 0 });
    await sdk.messages.create({ model: 'bedrock/nova-2-lite', max_tokens: 8192, thinking: { type: 'enabled', budget_tokens: 8000 }, ...topK(30), messages: hello });
    assert.deepEqual(upstream.last().json().additionalModelRequestFields, {
      reasoningConfig: { type: 'enabled', maxReasoningEffort: 'medium' },
      inferenceConfig: { topK: 30 },
    });
  });
});
