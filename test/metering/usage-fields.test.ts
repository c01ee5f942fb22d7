/**
 * Usage fields the vendors document but no recording in test/fixtures carries (every recorded cache
 * write is 0, no recording has audio or image tokens, a 1-hour cache, a web search or a rerank):
 * each parser splits them into disjoint classes that sum to the vendor's own total. The shapes are
 * the vendors' documented ones (API references named per case); usage-classes.test.ts covers the
 * recordings themselves.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Usage } from '../../src/metering/usage.ts';
import { StreamUsage, usageFromAnthropic } from '../../src/providers/anthropic/usage.ts';
import { usageFromConverse, usageFromInvoke } from '../../src/providers/bedrock/usage.ts';
import { usageFromCohere } from '../../src/providers/cohere/usage.ts';
import { usageFromGemini } from '../../src/providers/gemini/usage.ts';
import { anthropicUsage } from '../../src/providers/messages/usage.ts';
import { requestedImageVariant, usageFromOpenAI, usageOfAnswer, usageOfBody, withImageVariant } from '../../src/providers/openai-compatible/usage.ts';
import { classesOf, type ClassName } from '../support/usage-classes.ts';

type Classes = Partial<Record<ClassName, number>>;

/** The disjoint classes a Usage implies, zero classes left out. */
function classes(u: Usage | null): Classes {
  assert.ok(u, 'a usage is read');
  const all = classesOf(u);
  for (const [k, v] of Object.entries(all)) assert.ok(Number.isSafeInteger(v) && v >= 0, `${k} = ${v}`);
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== 0));
}

const sum = (c: Classes) => Object.values(c).reduce((a, b) => a + b, 0);

describe('Anthropic: cache writes by TTL, the served tier, web searches', () => {
  // Messages API usage: input_tokens excludes cache_creation_input_tokens and cache_read_input_tokens;
  // cache_creation splits the writes by TTL; server_tool_use counts web searches.
  const wire = {
    input_tokens: 20,
    cache_creation_input_tokens: 3000,
    cache_read_input_tokens: 9000,
    cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
    output_tokens: 50,
    service_tier: 'priority',
    server_tool_use: { web_search_requests: 3, web_fetch_requests: 1 },
  };

  test('each count in its class, summing to input + cache_creation + cache_read + output', () => {
    const usage = usageFromAnthropic(wire);
    assert.deepEqual(classes(usage), { input: 20, cache_read: 9000, cache_write_5m: 1000, cache_write_1h: 2000, output: 50 });
    assert.equal(sum(classes(usage)), 20 + 3000 + 9000 + 50);
    assert.equal(usage!.service_tier, 'priority');
    // Web fetches cost tokens only; searches are billed per call.
    assert.deepEqual(usage!.units, { web_search_call: 3 });
  });

  test('without the TTL split every write is a 5-minute one; a split that places fewer leaves the rest at 5 minutes', () => {
    assert.deepEqual(classes(usageFromAnthropic({ input_tokens: 5, cache_creation_input_tokens: 500, output_tokens: 1 })), { input: 5, cache_write_5m: 500, output: 1 });
    const partial = usageFromAnthropic({ input_tokens: 5, cache_creation_input_tokens: 500, cache_creation: { ephemeral_1h_input_tokens: 100 }, output_tokens: 1 });
    assert.deepEqual(classes(partial), { input: 5, cache_write_5m: 400, cache_write_1h: 100, output: 1 });
    // A split claiming more than the total cannot create tokens.
    const over = usageFromAnthropic({ input_tokens: 5, cache_creation_input_tokens: 10, cache_creation: { ephemeral_1h_input_tokens: 1e9 }, output_tokens: 1 });
    assert.deepEqual(classes(over), { input: 5, cache_write_1h: 10, output: 1 });
  });

  test('streamed: message_start\'s split and tier survive a message_delta that restates the counts without them', () => {
    const stream = new StreamUsage();
    stream.update({ input_tokens: 20, cache_creation_input_tokens: 3000, cache_read_input_tokens: 0, cache_creation: wire.cache_creation, output_tokens: 1, service_tier: 'standard' }, false);
    stream.update({ input_tokens: 20, cache_creation_input_tokens: 3000, cache_read_input_tokens: 0, output_tokens: 70, server_tool_use: { web_search_requests: 2 } }, true);
    const usage = stream.usage(0);
    assert.deepEqual(classes(usage), { input: 20, cache_write_5m: 1000, cache_write_1h: 2000, output: 70 });
    assert.equal(usage!.service_tier, 'standard');
    assert.deepEqual(usage!.units, { web_search_call: 2 });
  });

  test('the Messages bridge reports the writes as cache_creation_input_tokens, outside input_tokens', () => {
    assert.deepEqual(anthropicUsage(usageFromAnthropic(wire)), { input_tokens: 20, output_tokens: 50, cache_read_input_tokens: 9000, cache_creation_input_tokens: 3000 });
  });
});

describe('Bedrock: cache reads and writes beside inputTokens, writes by TTL', () => {
  test('Converse usage with cacheDetails (a body pasted in tensorzero/tensorzero#5688): writes at 5 minutes', () => {
    const u = { cacheDetails: [{ inputTokens: 7502, ttl: '5m' }], cacheReadInputTokenCount: 0, cacheReadInputTokens: 0, cacheWriteInputTokenCount: 7502, cacheWriteInputTokens: 7502, inputTokens: 18, outputTokens: 386, serverToolUsage: {}, totalTokens: 7906 };
    const c = classes(usageFromConverse(u));
    assert.deepEqual(c, { input: 18, cache_write_5m: 7502, output: 386 });
    assert.equal(sum(c), u.totalTokens);
  });

  test('TokenUsage.cacheDetails with a 1-hour write (API reference: sorted 1h before 5m)', () => {
    const u = { inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 40, cacheWriteInputTokens: 2500, cacheDetails: [{ ttl: '1h', inputTokens: 2000 }, { ttl: '5m', inputTokens: 500 }], totalTokens: 2555 };
    const c = classes(usageFromConverse(u));
    assert.deepEqual(c, { input: 10, cache_read: 40, cache_write_5m: 500, cache_write_1h: 2000, output: 5 });
    assert.equal(sum(c), u.totalTokens);
  });

  test('InvokeModel: invocationMetrics count cache reads and writes beside inputTokenCount; a Claude body\'s own usage', () => {
    const metrics = { inputTokenCount: 10174, outputTokenCount: 100, cacheReadInputTokenCount: 9821, cacheWriteInputTokenCount: 5 };
    assert.deepEqual(classes(usageFromInvoke({ 'amazon-bedrock-invocationMetrics': metrics })), { input: 10174, cache_read: 9821, cache_write_5m: 5, output: 100 });
    const claude = { type: 'message', usage: { input_tokens: 3, cache_read_input_tokens: 900, cache_creation_input_tokens: 0, output_tokens: 8 } };
    assert.deepEqual(classes(usageFromInvoke(claude)), { input: 3, cache_read: 900, output: 8 });
  });
});

describe('Gemini: audio and image by modality, the cached share taken out once', () => {
  test('prompt, cache and tool-use modality lists; image output; thoughts; Vertex Flex PayGo', () => {
    const meta = {
      promptTokenCount: 1000,
      promptTokensDetails: [
        { modality: 'TEXT', tokenCount: 400 },
        { modality: 'AUDIO', tokenCount: 500 },
        { modality: 'IMAGE', tokenCount: 100 },
      ],
      cachedContentTokenCount: 300,
      cacheTokensDetails: [
        { modality: 'AUDIO', tokenCount: 200 },
        { modality: 'TEXT', tokenCount: 100 },
      ],
      toolUsePromptTokenCount: 50,
      toolUsePromptTokensDetails: [{ modality: 'TEXT', tokenCount: 50 }],
      candidatesTokenCount: 1290,
      candidatesTokensDetails: [{ modality: 'IMAGE', tokenCount: 1290 }],
      thoughtsTokenCount: 100,
      totalTokenCount: 2440,
      trafficType: 'ON_DEMAND_FLEX',
    };
    const usage = usageFromGemini(meta as never);
    const c = classes(usage);
    assert.deepEqual(c, { input: 350, cache_read: 300, audio_input: 300, image_input: 100, reasoning: 100, image_output: 1290 });
    assert.equal(sum(c), meta.totalTokenCount);
    assert.equal(usage!.service_tier, 'flex');
    assert.equal(usageFromGemini({ promptTokenCount: 1, trafficType: 'ON_DEMAND' } as never)!.service_tier, undefined, 'pay-as-you-go is the base price');
  });
});

describe('OpenAI: audio, images, transcription tokens, the served tier, web searches', () => {
  test('chat audio in and out (prompt/completion_tokens_details.audio_tokens) and the top-level service_tier', () => {
    const completion = {
      object: 'chat.completion',
      service_tier: 'flex',
      usage: { prompt_tokens: 100, completion_tokens: 200, total_tokens: 300, prompt_tokens_details: { cached_tokens: 10, audio_tokens: 60 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 150 } },
    };
    const usage = usageOfAnswer(completion, null);
    assert.deepEqual(classes(usage), { input: 30, cache_read: 10, audio_input: 60, output: 50, audio_output: 150 });
    assert.equal(usage!.service_tier, 'flex');
    assert.deepEqual(usageOfBody(Buffer.from(JSON.stringify(completion)), null), usage, 'read from the bytes alike');
  });

  test('gpt-image: text and image input, image output, the images as units by size and quality', () => {
    const answer = {
      created: 1,
      data: [{ b64_json: 'aGk=' }, { b64_json: 'aGk=' }],
      size: '1024x1024',
      quality: 'high',
      usage: { total_tokens: 8370, input_tokens: 50, input_tokens_details: { text_tokens: 10, image_tokens: 40 }, output_tokens: 8320 },
    };
    const usage = usageOfBody(Buffer.from(JSON.stringify(answer)), null, 'images');
    const c = classes(usage);
    assert.deepEqual(c, { input: 10, image_input: 40, image_output: 8320 });
    assert.equal(sum(c), answer.usage.total_tokens);
    assert.deepEqual(usage!.units, { 'image:1024x1024:high': 2 });
    assert.deepEqual(usageOfAnswer(answer, null, 'images'), usage);
  });

  test('images an answer leaves plain are named by the variant the request asked for; named ones keep their name', () => {
    assert.equal(requestedImageVariant({ size: '1024x1792', quality: 'hd' }), '1024x1792:hd');
    assert.equal(requestedImageVariant({ size: '1792x1024' }), '1792x1024');
    // A quality alone names no catalog key (the size comes first): the images stay plain.
    assert.equal(requestedImageVariant({ quality: 'hd' }), undefined);
    assert.equal(requestedImageVariant({ size: '1024x1024"}', quality: 'hd' }), undefined, 'no unit name from an odd value');
    const dallE = usageOfBody(Buffer.from(JSON.stringify({ created: 1, data: [{ url: 'u' }, { url: 'v' }] })), null, 'images');
    assert.deepEqual(withImageVariant(dallE, '1024x1792:hd')!.units, { 'image:1024x1792:hd': 2 });
    assert.equal(withImageVariant(dallE, undefined), dallE);
    const gptImage = usageOfAnswer({ data: [{ b64_json: 'aGk=' }], size: '1024x1024', quality: 'high', usage: { input_tokens: 1, output_tokens: 2 } }, null, 'images');
    assert.deepEqual(withImageVariant(gptImage, '1536x1024:low')!.units, { 'image:1024x1024:high': 1 }, 'the answer says what was served');
  });

  test('transcription billed by tokens: audio input in input_token_details', () => {
    const c = classes(usageFromOpenAI({ type: 'tokens', input_tokens: 120, input_token_details: { text_tokens: 20, audio_tokens: 100 }, output_tokens: 30, total_tokens: 150 }, null, 'audio_transcription'));
    assert.deepEqual(c, { input: 20, audio_input: 100, output: 30 });
  });

  test('a Response\'s web_search_call items are web searches, from the body, the parsed answer and the completed event', () => {
    const response = {
      object: 'response',
      service_tier: 'priority',
      output: [
        { type: 'web_search_call', id: 'ws_1', status: 'completed' },
        { type: 'web_search_call', id: 'ws_2', status: 'completed' },
        { type: 'message', content: [{ type: 'output_text', text: 'a \"type\":\"web_search_call\" in text is no call' }] },
      ],
      usage: { input_tokens: 30, input_tokens_details: { cached_tokens: 0 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 5 }, total_tokens: 50 },
    };
    for (const usage of [usageOfBody(Buffer.from(JSON.stringify(response, null, 1)), null), usageOfAnswer(response, null), usageOfAnswer({ type: 'response.completed', response }, null)]) {
      assert.deepEqual(classes(usage), { input: 30, output: 15, reasoning: 5 });
      assert.equal(usage!.service_tier, 'priority');
      assert.deepEqual(usage!.units, { web_search_call: 2 });
    }
  });

  test('hostile counts: strings count, fractions round up, a cache larger than the prompt cannot make a class negative', () => {
    const usage = usageFromOpenAI({ prompt_tokens: 9.5, completion_tokens: '4.2', prompt_tokens_details: { cached_tokens: 50, audio_tokens: -3 }, completion_tokens_details: { reasoning_tokens: 1e300 } }, null);
    assert.deepEqual(classes(usage), { cache_read: 10, reasoning: 5 });
    assert.equal(usageOfAnswer({ service_tier: 'x"; DROP', usage: { prompt_tokens: 1 } }, null)!.service_tier, undefined, 'a tier that is no tier name is dropped');
  });
});

describe('Cohere: rerank bills searches', () => {
  test('meta.billed_units.search_units → the search unit, no tokens', () => {
    const usage = usageFromCohere({ api_version: { version: '2' }, billed_units: { search_units: 1 } });
    assert.deepEqual(classes(usage), {});
    assert.deepEqual(usage!.units, { search: 1 });
  });
});
