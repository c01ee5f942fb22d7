/**
 * The contract suite for OpenAI and every OpenAI-compatible vendor: the official openai SDK talks to
 * the real sidecar, which talks to a fake upstream replaying each vendor's recordings. What the SDK
 * reassembles, what the upstream saw, and what was metered are checked against the recordings.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chunkLines, fixtureJson, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../support/gateway.ts';
import { loadTestCatalog } from '../support/catalog.ts';
import { proves, provesBorrowed } from '../support/capabilities.ts';
import { expectedCredits } from '../support/expect.ts';

interface RecordedCase {
  provider: string;
  /** Catalog model id the caller asks for. */
  model: string;
  /** Path of the chat completions endpoint below the fake upstream (the vendor's base path). */
  json?: string;
  chunks?: string;
  /** xAI leaves reasoning tokens out of completion_tokens; they are billed as output. */
  reasoningSeparate?: boolean;
  /** Why a recording of another vendor stands in (SOURCES.md, "Known gaps"). */
  borrowed?: string;
  /** What replaying this case proves, for docs/capabilities.md. */
  evidence: () => void;
}

const catalog = loadTestCatalog();
const firstChatModel = (provider: string) => {
  const m = catalog.modelsOf(provider).find((x) => x.status === 'active' && x.operations.includes('chat'));
  assert.ok(m, `the catalog has an active chat model for ${provider}`);
  return m.model_id;
};

const CASES: RecordedCase[] = [
  { provider: 'openai', model: 'gpt-4.1-nano', json: 'openai/openai-text.json', chunks: 'openai/openai-text.chunks.txt', evidence: () => proves('openai', 'chat', 'stream') },
  { provider: 'groq', model: 'llama-3.3-70b-versatile', json: 'groq/groq-text.json', chunks: 'groq/groq-text.chunks.txt', evidence: () => proves('groq', 'chat', 'stream') },
  { provider: 'groq', model: 'llama-3.3-70b-versatile', json: 'groq/groq-tool-call.json', chunks: 'groq/groq-tool-call.chunks.txt', evidence: () => proves('groq', 'tools', 'streaming_tools') },
  { provider: 'deepseek', model: 'deepseek-chat', json: 'deepseek/deepseek-text.json', chunks: 'deepseek/deepseek-text.chunks.txt', evidence: () => proves('deepseek', 'chat', 'stream') },
  { provider: 'deepseek', model: 'deepseek-reasoner', json: 'deepseek/deepseek-tool-call.json', chunks: 'deepseek/deepseek-tool-call.chunks.txt', evidence: () => proves('deepseek', 'tools', 'streaming_tools', 'thinking') },
  { provider: 'deepseek', model: 'deepseek-reasoner', json: 'deepseek/deepseek-reasoning.json', chunks: 'deepseek/deepseek-reasoning.chunks.txt', evidence: () => proves('deepseek', 'thinking') },
  { provider: 'xai', model: 'grok-3-mini', json: 'xai/xai-text.json', chunks: 'xai/xai-text.chunks.txt', reasoningSeparate: true, evidence: () => proves('xai', 'chat', 'stream', 'thinking') },
  { provider: 'xai', model: 'grok-3-mini', json: 'xai/xai-tool-call.json', chunks: 'xai/xai-tool-call.chunks.txt', reasoningSeparate: true, evidence: () => proves('xai', 'tools', 'streaming_tools') },
  { provider: 'mistral', model: 'mistral-small-latest', json: 'mistral/mistral-text.json', chunks: 'mistral/mistral-text.chunks.txt', evidence: () => proves('mistral', 'chat', 'stream') },
  { provider: 'mistral', model: 'mistral-small-latest', json: 'mistral/mistral-tool-call.json', chunks: 'mistral/mistral-tool-call.chunks.txt', evidence: () => proves('mistral', 'tools', 'streaming_tools') },
  { provider: 'mistral', model: 'magistral-medium-2507', json: 'mistral/mistral-reasoning.json', chunks: 'mistral/mistral-reasoning.chunks.txt', evidence: () => proves('mistral', 'thinking') },
  { provider: 'cerebras', model: 'zai-glm-4.7', json: 'cerebras/cerebras-structured-output-tools.1.json', chunks: 'cerebras/cererebras-structured-output-tools.1.chunks.txt', evidence: () => proves('cerebras', 'chat', 'stream', 'tools', 'streaming_tools', 'thinking') },
  { provider: 'perplexity', model: 'sonar', json: 'perplexity/perplexity-text.json', chunks: 'perplexity/perplexity-text.chunks.txt', evidence: () => proves('perplexity', 'chat', 'stream') },
  { provider: 'together', model: firstChatModel('together'), json: 'openai/openai-text.json', chunks: 'openai/openai-text.chunks.txt', borrowed: 'no Together recording exists', evidence: () => provesBorrowed('together', 'chat', 'stream') },
  { provider: 'fireworks', model: firstChatModel('fireworks'), json: 'groq/groq-tool-call.json', chunks: 'deepseek/deepseek-text.chunks.txt', borrowed: 'no Fireworks recording exists', evidence: () => provesBorrowed('fireworks', 'chat', 'stream', 'tools') },
  { provider: 'openrouter', model: 'openrouter/claude-sonnet-4.6', json: 'openai/openai-text.json', chunks: 'openai/openai-text.chunks.txt', borrowed: 'no OpenRouter recording exists', evidence: () => provesBorrowed('openrouter', 'chat', 'stream') },
  { provider: 'openai-compatible', model: 'local-llama', json: 'openai/openai-text.json', chunks: 'openai/openai-text.chunks.txt', borrowed: 'vLLM speaks the OpenAI wire', evidence: () => provesBorrowed('openai-compatible', 'chat', 'stream') },
];

/** What a recording says the caller should end up with. */
function expectedFromJson(path: string) {
  const body = fixtureJson(path);
  const message = body.choices[0].message;
  return {
    content: textOf(message.content),
    reasoning: message.reasoning_content ?? message.reasoning ?? thinkingOf(message.content),
    toolCalls: (message.tool_calls ?? []).map((t: any) => ({ name: t.function.name, arguments: t.function.arguments })),
    usage: body.usage,
  };
}

function expectedFromChunks(path: string) {
  let content = '';
  let reasoning = '';
  const calls: { name: string; arguments: string }[] = [];
  let usage: any = null;
  for (const line of chunkLines(path)) {
    const chunk = JSON.parse(line);
    usage = chunk.usage ?? chunk.x_groq?.usage ?? usage;
    const delta = chunk.choices?.[0]?.delta;
    if (!delta) continue;
    content += textOf(delta.content);
    reasoning += delta.reasoning_content ?? delta.reasoning ?? thinkingOf(delta.content);
    for (const [i, call] of (delta.tool_calls ?? []).entries()) {
      const index = call.index ?? i;
      calls[index] ??= { name: '', arguments: '' };
      calls[index].name += call.function?.name ?? '';
      calls[index].arguments += call.function?.arguments ?? '';
    }
  }
  return { content, reasoning, toolCalls: calls, usage };
}

/** Mistral's reasoning models send content as an array of parts; the text parts are the answer. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.filter((p) => p.type === 'text').map((p) => p.text).join('');
  return '';
}

/** …and the thinking parts (each a list of text parts) are its reasoning. */
function thinkingOf(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content.filter((p) => p.type === 'thinking').flatMap((p) => p.thinking).map((t: any) => t.text).join('');
}

function billedTokens(c: RecordedCase, usage: any) {
  const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  return { prompt: usage.prompt_tokens, completion: usage.completion_tokens + (c.reasoningSeparate ? reasoning : 0) };
}


function chatPath(provider: string): string {
  const base = catalog.provider(provider)!.base_url;
  return (base === null ? '/v1' : new URL(base).pathname.replace(/\/$/, '')) + '/chat/completions';
}

describe('unified chat API over OpenAI-compatible vendors, replaying recordings', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  useGateway((u, g) => ((upstream = u), (gw = g)), {
    config: {
      models: [
        {
          model_id: 'local-llama', name: 'Llama on vLLM', vendor: 'meta', provider: 'openai-compatible',
          upstream_model: 'meta-llama/Llama-3.1-8B-Instruct', context_window: 131072, quality_score: 60, latency_score: 80,
          input_usd_per_1m: null, output_usd_per_1m: null, status: 'active',
        },
      ],
    },
  });

  for (const c of CASES) {
    const label = `${c.provider} ${c.model}${c.borrowed ? ` (${c.borrowed})` : ''}`;

    test(`${label}: non-streaming answer, tool calls and usage equal ${c.json}`, async () => {
      upstream.reset();
      upstream.on('POST', chatPath(c.provider), { json: fixtureJson(c.json!) });
      const expected = expectedFromJson(c.json!);
      const served = gw.catalog().resolve(c.model).model;

      const completion = await gw.openai().chat.completions.create({
        model: c.model,
        messages: [{ role: 'user', content: 'Hello' }],
        tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } }],
      });

      c.evidence();
      const message = completion.choices[0]!.message as typeof completion.choices[0]['message'] & { reasoning_content?: string; reasoning?: string };
      assert.ok(message.content == null || typeof message.content === 'string', 'content is a string (or absent), as OpenAI callers expect');
      assert.equal(textOf(message.content), expected.content);
      assert.equal(message.reasoning_content ?? message.reasoning ?? '', expected.reasoning, 'reasoning reaches the caller');
      assert.deepEqual(
        (message.tool_calls ?? []).map((t) => (t.type === 'function' ? { name: t.function.name, arguments: t.function.arguments } : null)),
        expected.toolCalls,
      );
      assert.deepEqual(completion.usage, expected.usage);

      const seen = upstream.last();
      assert.equal(seen.headers.authorization, `Bearer ${providerKey(c.provider)}`);
      assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller key never reaches the upstream');
      assert.equal(seen.json().model, served.upstream_model);
      assert.equal(seen.json().tools[0].function.name, 'weather', 'tools pass through');

      const record = (await gw.usage()).find((r) => r.request_id === completion._request_id);
      assert.ok(record, 'one usage record carries the request id the SDK saw');
      const billed = billedTokens(c, expected.usage);
      assert.equal(record!.provider, c.provider);
      assert.equal(record!.model, served.model_id);
      assert.equal(record!.prompt_tokens, billed.prompt);
      assert.equal(record!.completion_tokens, billed.completion);
      assert.equal(record!.usage_source, 'reported');
      assert.ok(Math.abs(Number(record!.credits) - expectedCredits(served, billed.prompt, billed.completion)) < 1e-9);
    });

    test(`${label}: streamed answer reassembled by the SDK equals ${c.chunks}`, async () => {
      upstream.reset();
      upstream.on('POST', chatPath(c.provider), { frames: sseFrames(chunkLines(c.chunks!), { done: true }) });
      const expected = expectedFromChunks(c.chunks!);

      const stream = await gw.openai().chat.completions.create({
        model: c.model,
        messages: [{ role: 'user', content: 'Hello' }],
        stream: true,
      });
      let content = '';
      let reasoning = '';
      const calls: { name: string; arguments: string }[] = [];
      let usageChunkSeen = false;
      for await (const chunk of stream) {
        if (chunk.choices.length === 0 && chunk.usage) usageChunkSeen = true;
        const delta = chunk.choices[0]?.delta as (typeof chunk.choices)[0]['delta'] & { reasoning_content?: string; reasoning?: string } | undefined;
        content += textOf(delta?.content);
        reasoning += delta?.reasoning_content ?? delta?.reasoning ?? '';
        for (const call of delta?.tool_calls ?? []) {
          // The SDK's own accumulator keys deltas by index: every delta must carry one.
          assert.equal(typeof call.index, 'number', 'streamed tool-call deltas carry an index');
          if (call.id) assert.equal(call.type, 'function', 'a new tool call says its type');
          const index = call.index;
          calls[index] ??= { name: '', arguments: '' };
          calls[index].name += call.function?.name ?? '';
          calls[index].arguments += call.function?.arguments ?? '';
        }
      }
      c.evidence();
      assert.equal(content, expected.content);
      assert.equal(reasoning, expected.reasoning, 'streamed reasoning reaches the caller');
      assert.deepEqual(calls, expected.toolCalls);

      const compat = catalog.provider(c.provider)!.openai_compat!;
      const sent = upstream.last().json();
      if (compat.stream_usage === 'opt_in' && compat.accepts_stream_options) {
        assert.equal(sent.stream_options?.include_usage, true, 'Tollbooth asks for usage on the caller’s behalf');
        assert.equal(usageChunkSeen, false, 'the usage-only chunk the caller did not ask for is hidden');
      }
      assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey(c.provider)}`);

      const record = (await gw.usage()).at(-1)!;
      const billed = billedTokens(c, expected.usage);
      assert.equal(record.stream, true);
      assert.equal(record.outcome, 'ok');
      assert.equal(record.prompt_tokens, billed.prompt);
      assert.equal(record.completion_tokens, billed.completion);
      assert.equal(record.usage_source, 'reported');
    });
  }

  test('a caller who asks for stream usage gets the recording’s usage chunk unchanged', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { frames: sseFrames(chunkLines('openai/openai-text.chunks.txt'), { done: true }) });
    const stream = await gw.openai().chat.completions.create({
      model: 'gpt-4.1-nano',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: unknown = null;
    for await (const chunk of stream) if (chunk.choices.length === 0) usage = chunk.usage;
    assert.deepEqual(usage, expectedFromChunks('openai/openai-text.chunks.txt').usage);
  });

  test('the SDK’s streaming helper reassembles a streamed tool call (groq recording)', async () => {
    upstream.reset();
    upstream.on('POST', '/openai/v1/chat/completions', { frames: sseFrames(chunkLines('groq/groq-tool-call.chunks.txt'), { done: true }) });
    const runner = gw.openai().chat.completions.stream({
      model: 'llama-3.3-70b-versatile',
      messages: [{ role: 'user', content: 'Weather?' }],
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } }],
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    assert.equal(call.type === 'function' && call.function.name, 'weather');
    assert.equal(call.type === 'function' && call.function.arguments, '{}');
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
  });

  test('vision content parts reach the upstream unchanged', async () => {
    proves('openai', 'vision');
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    const content = [
      { type: 'text' as const, text: 'What is in this image?' },
      { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' as const } },
    ];
    await gw.openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
    assert.deepEqual(upstream.last().json().messages[0].content, content);
  });
});
