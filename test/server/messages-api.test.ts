/**
 * The Anthropic Messages API on the unified root: the official @anthropic-ai/sdk, pointed at the
 * sidecar's root, talks to Anthropic natively and to other providers through the unified chat
 * bridge, against recordings replayed by the fake upstream. What the SDK gets, what the upstream
 * saw and what was metered (credits recomputed from the recorded usage) are checked.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { chunkLines, fixtureJson, fixtureText, sseFrames } from '../support/fixtures.ts';
import type { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../support/gateway.ts';
import { assertReportedCharge } from '../support/expect.ts';
import { anthropicFrames, fromEvents, fromMessage } from '../providers/anthropic/recordings.ts';

const CLAUDE = 'claude-sonnet-4.6';
const GPT = 'gpt-4.1-nano';
const GROQ = 'llama-3.3-70b-versatile';
const GEMINI = 'gemini-3.8-flash';
const WEATHER = { name: 'weather', description: 'Weather at a place', input_schema: { type: 'object' as const, properties: { location: { type: 'string' } }, required: ['location'] } };
const hello = [{ role: 'user' as const, content: 'Hello' }];

describe('POST /v1/messages (@anthropic-ai/sdk at the sidecar root)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const sdk = () => new Anthropic({ baseURL: gw.url, apiKey: CALLER_KEYS.member, maxRetries: 0 });
  const model = (id: string) => gw.catalog().resolve(id).model;
  const lastCharge = async () => (await gw.usage()).at(-1)!;
  const assertCredits = (record: any, id: string, prompt: number, completion: number) => assertReportedCharge(record, model(id), prompt, completion);

  useGateway((u, g) => ((upstream = u), (gw = g)), { config: { anthropic_model_map: { 'claude-haiku-4-5-*': GPT, 'claude-opus-4-1': GEMINI } } });

  test('Anthropic native: the recorded message as it is, the catalog upstream model, the managed key', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/messages', { body: fixtureText('anthropic/anthropic-text.json') });
    const message = await sdk().messages.create({ model: CLAUDE, max_tokens: 64, messages: hello });
    assert.deepEqual(message, fixtureJson('anthropic/anthropic-text.json'));
    const seen = upstream.last();
    assert.equal(seen.json().model, model(CLAUDE).upstream_model);
    assert.deepEqual(seen.json().messages, hello);
    assert.equal(seen.headers['x-api-key'], providerKey('anthropic'));
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member));
    const expected = fromMessage('anthropic/anthropic-text.json');
    const record = await lastCharge();
    assert.equal(record.provider, 'anthropic');
    assertCredits(record, CLAUDE, expected.prompt, expected.completion);
  });

  test('Anthropic native, streamed: thinking and its signature arrive intact; usage from the latest counts', async () => {
    upstream.reset();
    const path = 'anthropic/anthropic-clear-thinking.1.chunks.txt';
    upstream.on('POST', '/v1/messages', { frames: anthropicFrames(path) });
    const expected = fromEvents(path);
    const final = await sdk().messages.stream({ model: CLAUDE, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: hello }).finalMessage();
    const thinking = final.content.find((b) => b.type === 'thinking');
    const recordedSignature = chunkLines(path).map((l) => JSON.parse(l)).filter((e) => e.delta?.type === 'signature_delta').map((e) => e.delta.signature).join('');
    assert.ok(recordedSignature.length > 0);
    assert.equal(thinking?.type === 'thinking' && thinking.signature, recordedSignature);
    assert.equal(final.content.filter((b) => b.type === 'text').map((b) => (b as any).text).join(''), expected.text);
    assertCredits(await lastCharge(), CLAUDE, expected.prompt, expected.completion);
  });

  test('OpenAI bridged: the chat answer as a Message, the request as a chat request', async () => {
    upstream.reset();
    const recorded = fixtureJson('openai/openai-text.json');
    upstream.on('POST', '/v1/chat/completions', { json: recorded });
    const message = await sdk().messages.create({ model: GPT, max_tokens: 64, system: 'Be brief.', stop_sequences: ['END'], messages: hello });
    assert.equal(message.type, 'message');
    assert.equal(message.model, GPT);
    assert.equal(message.stop_reason, 'end_turn');
    assert.deepEqual(message.content, [{ type: 'text', text: recorded.choices[0].message.content }]);
    assert.equal(message.usage.output_tokens, recorded.usage.completion_tokens);
    const sent = upstream.last().json();
    assert.deepEqual(sent.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }]);
    assert.equal(sent.max_completion_tokens, 64);
    assert.deepEqual(sent.stop, ['END']);
    assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('openai')}`);
    assertCredits(await lastCharge(), GPT, recorded.usage.prompt_tokens, recorded.usage.completion_tokens);
  });

  test('OpenAI bridged, streamed: the Anthropic event sequence, text reassembled, usage in message_delta', async () => {
    upstream.reset();
    const path = 'openai/openai-text.chunks.txt';
    upstream.on('POST', '/v1/chat/completions', { frames: sseFrames(chunkLines(path), { done: true }) });
    const chunks = chunkLines(path).map((l) => JSON.parse(l));
    const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    const usage = chunks.findLast((c) => c.usage)?.usage;
    const stream = await sdk().messages.create({ model: GPT, max_tokens: 64, messages: hello, stream: true });
    const events: any[] = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'message_start');
    assert.equal(types[1], 'content_block_start', 'the SDK drops the ping that follows message_start');
    assert.deepEqual(types.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    const collapse = (list: string[]) => list.filter((t, i) => t !== list[i - 1]);
    const real = chunkLines('anthropic/anthropic-text.chunks.txt').map((l) => JSON.parse(l).type).filter((t) => t !== 'ping');
    assert.deepEqual(collapse(types), collapse(real), 'the sequence of a real Anthropic text stream');
    assert.equal(events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join(''), text);
    const delta = events.find((e) => e.type === 'message_delta');
    assert.equal(delta.usage.output_tokens, usage.completion_tokens);
    assert.equal(delta.delta.stop_reason, 'end_turn');
    assert.equal(upstream.last().json().stream_options?.include_usage, true, 'usage asked for on the caller’s behalf');
    const record = await lastCharge();
    assert.equal(record.stream, true);
    assert.equal(record.outcome, 'ok');
    assertCredits(record, GPT, usage.prompt_tokens, usage.completion_tokens);
  });

  test('Groq bridged, streamed tool call: a tool_use block built from input_json_delta', async () => {
    upstream.reset();
    const path = 'groq/groq-tool-call.chunks.txt';
    upstream.on('POST', '/openai/v1/chat/completions', { frames: sseFrames(chunkLines(path), { done: true }) });
    const chunks = chunkLines(path).map((l) => JSON.parse(l));
    const calls = chunks.flatMap((c) => c.choices?.[0]?.delta?.tool_calls ?? []);
    const usage = chunks.map((c) => c.usage ?? c.x_groq?.usage).filter(Boolean).at(-1);
    const final = await sdk().messages.stream({ model: GROQ, max_tokens: 256, tools: [WEATHER], tool_choice: { type: 'any' }, messages: hello }).finalMessage();
    const uses = final.content.filter((b) => b.type === 'tool_use');
    assert.equal(uses.length, calls.filter((c: any) => c.id).length);
    assert.equal((uses[0] as any).id, calls[0].id);
    assert.equal((uses[0] as any).name, calls[0].function.name);
    assert.deepEqual((uses[0] as any).input, JSON.parse(calls.filter((c: any) => (c.index ?? 0) === 0).map((c: any) => c.function?.arguments ?? '').join('')));
    assert.equal(final.stop_reason, 'tool_use');
    const sent = upstream.last().json();
    assert.deepEqual(sent.tools, [{ type: 'function', function: { name: 'weather', description: WEATHER.description, parameters: WEATHER.input_schema } }]);
    assert.equal(sent.tool_choice, 'required');
    assertCredits(await lastCharge(), GROQ, usage.prompt_tokens, usage.completion_tokens);
  });

  test('DeepSeek bridged, streamed reasoning: a thinking block (no signature: not Anthropic’s), then the text', async () => {
    upstream.reset();
    const path = 'deepseek/deepseek-reasoning.chunks.txt';
    upstream.on('POST', '/chat/completions', { frames: sseFrames(chunkLines(path), { done: true }) });
    const chunks = chunkLines(path).map((l) => JSON.parse(l));
    const reasoning = chunks.map((c) => c.choices?.[0]?.delta?.reasoning_content ?? '').join('');
    const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    const usage = chunks.findLast((c) => c.usage)?.usage;
    const final = await sdk().messages.stream({ model: 'deepseek-reasoner', max_tokens: 1024, messages: hello }).finalMessage();
    assert.deepEqual(final.content.map((b) => b.type), ['thinking', 'text']);
    assert.equal((final.content[0] as any).thinking, reasoning);
    assert.equal((final.content[1] as any).text, text);
    assertCredits(await lastCharge(), 'deepseek-reasoner', usage.prompt_tokens, usage.completion_tokens);
  });

  test('Gemini bridged: a tool round trip (tool_use + tool_result history) and the recorded functionCall back', async () => {
    upstream.reset();
    const served = model(GEMINI);
    const recorded = fixtureJson('gemini/google-tool-call.json');
    upstream.on('POST', `/v1beta/models/${served.upstream_model}:generateContent`, { json: recorded });
    const call = recorded.candidates[0].content.parts.find((p: any) => p.functionCall).functionCall;
    const message = await sdk().messages.create({
      model: GEMINI,
      max_tokens: 256,
      tools: [WEATHER],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { location: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' }, { type: 'text', text: 'And San Francisco?' }] },
      ],
    });
    const use = message.content.find((b) => b.type === 'tool_use') as any;
    assert.equal(use.name, call.name);
    assert.deepEqual(use.input, call.args);
    assert.equal(message.stop_reason, 'tool_use');
    const contents = upstream.last().json().contents;
    assert.deepEqual(contents.slice(0, 2).map((c: any) => c.role), ['user', 'model']);
    assert.deepEqual(contents[1].parts.find((p: any) => p.functionCall).functionCall, { name: 'weather', args: { location: 'Paris' } });
    assert.ok(JSON.stringify(contents).includes('"functionCall"') && JSON.stringify(contents).includes('"functionResponse"'), 'the tool turn reached Gemini as one');
    const meta = recorded.usageMetadata;
    assertCredits(await lastCharge(), GEMINI, meta.promptTokenCount, meta.candidatesTokenCount + (meta.thoughtsTokenCount ?? 0));
  });

  test('Gemini bridged, streamed text', async () => {
    upstream.reset();
    const served = model(GEMINI);
    const path = 'gemini/google-text.chunks.txt';
    upstream.on('POST', `/v1beta/models/${served.upstream_model}:streamGenerateContent`, { frames: sseFrames(chunkLines(path)) });
    const lines = chunkLines(path).map((l) => JSON.parse(l));
    const text = lines.flatMap((l) => l.candidates?.[0]?.content?.parts ?? []).filter((p: any) => typeof p.text === 'string' && !p.thought).map((p: any) => p.text).join('');
    const meta = lines.map((l) => l.usageMetadata).filter((u) => typeof u?.promptTokenCount === 'number').at(-1);
    const final = await sdk().messages.stream({ model: GEMINI, max_tokens: 256, messages: hello }).finalMessage();
    assert.equal(final.content.filter((b) => b.type === 'text').map((b) => (b as any).text).join(''), text);
    assert.equal(final.usage.output_tokens, (meta.candidatesTokenCount ?? 0) + (meta.thoughtsTokenCount ?? 0));
    assertCredits(await lastCharge(), GEMINI, meta.promptTokenCount, (meta.candidatesTokenCount ?? 0) + (meta.thoughtsTokenCount ?? 0));
  });

  test('an agent’s large max_tokens is capped at the served model’s output limit on a bridge', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    const limit = model(GPT).max_output_tokens;
    assert.ok(typeof limit === 'number' && limit > 0, 'the catalog knows the model’s output limit');
    await sdk().messages.create({ model: GPT, max_tokens: limit + 50_000, messages: hello }, { timeout: 60_000 });
    assert.equal(upstream.last().json().max_completion_tokens, limit);
  });

  test('anthropic_model_map: Claude Code’s model names land on the chosen catalog models', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    const message = await sdk().messages.create({ model: 'claude-haiku-4-5-20251001', max_tokens: 64, messages: hello });
    assert.equal(message.model, 'claude-haiku-4-5-20251001', 'the answer names the model the caller asked for');
    assert.equal(upstream.last().json().model, model(GPT).upstream_model);
    assert.equal((await lastCharge()).model, model(GPT).model_id);
  });

  test('an Anthropic upstream name resolves to its catalog model without a map entry', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/messages', { body: fixtureText('anthropic/anthropic-text.json') });
    await sdk().messages.create({ model: model(CLAUDE).upstream_model, max_tokens: 64, messages: hello });
    assert.equal((await lastCharge()).model, CLAUDE);
  });

  test('errors come in Anthropic’s shape: unknown model, server tools, upstream failure', async () => {
    upstream.reset();
    const notFound = await sdk().messages.create({ model: 'no-such-model', max_tokens: 8, messages: hello }).catch((e) => e);
    assert.ok(notFound instanceof Anthropic.NotFoundError);
    assert.equal((notFound.error as any).type, 'error');
    assert.equal((notFound.error as any).error.type, 'not_found_error');

    const serverTool = await sdk().messages.create({ model: GPT, max_tokens: 8, messages: hello, tools: [{ type: 'web_search_20250305', name: 'web_search' }] as any }).catch((e) => e);
    assert.ok(serverTool instanceof Anthropic.BadRequestError);
    assert.match(serverTool.message, /web_search_20250305/);
    assert.equal(upstream.requests.length, 0, 'refused before any upstream call');

    const unauthorized = await new Anthropic({ baseURL: gw.url, apiKey: 'not-a-key', maxRetries: 0 }).messages.create({ model: GPT, max_tokens: 8, messages: hello }).catch((e) => e);
    assert.ok(unauthorized instanceof Anthropic.AuthenticationError);
    assert.equal((unauthorized.error as any).error.type, 'authentication_error');
  });

  test('a bridged stream cut before its end is an error event, not a clean end', async () => {
    upstream.reset();
    const lines = chunkLines('openai/openai-text.chunks.txt');
    upstream.on('POST', '/v1/chat/completions', { frames: sseFrames(lines.slice(0, 3)), cut: true });
    const stream = await sdk().messages.create({ model: GPT, max_tokens: 64, messages: hello, stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, (err: any) => err instanceof Anthropic.APIError);
    const record = await lastCharge();
    assert.equal(record.outcome, 'truncated');
  });
});

describe('POST /v1/messages/count_tokens', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const sdk = () => new Anthropic({ baseURL: gw.url, apiKey: CALLER_KEYS.member, maxRetries: 0 });
  useGateway((u, g) => ((upstream = u), (gw = g)));

  test('Anthropic counts natively (no recording exists: hand-written body); nothing is charged', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/messages/count_tokens', { json: { input_tokens: 14 } });
    const before = (await gw.usage()).length;
    const counted = await sdk().messages.countTokens({ model: CLAUDE, messages: hello });
    assert.equal(counted.input_tokens, 14);
    const seen = upstream.last();
    assert.equal(seen.json().model, gw.catalog().resolve(CLAUDE).model.upstream_model);
    assert.equal(seen.headers['x-api-key'], providerKey('anthropic'));
    const charges = (await gw.usage()).slice(before);
    assert.deepEqual(
      charges.map((c) => [c.operation, c.credits, c.prompt_tokens, c.bill]),
      [['count_tokens', '0', 0, undefined]],
      'one entry, under its own operation, never charged',
    );
  });

  test('Gemini counts natively with countTokens (no recording exists: hand-written body); nothing is charged', async () => {
    upstream.reset();
    const served = gw.catalog().resolve(GEMINI).model;
    upstream.on('POST', `/v1beta/models/${served.upstream_model}:countTokens`, { json: { totalTokens: 9 } });
    const before = (await gw.usage()).length;
    const { data, response } = await sdk().messages.countTokens({ model: GEMINI, system: 'Be brief.', messages: hello }).withResponse();
    assert.equal(data.input_tokens, 9);
    assert.equal(response.headers.get('x-tollbooth-token-count'), null, 'a real count is not marked as an estimate');
    const sent = upstream.last().json();
    assert.equal(sent.generateContentRequest.model, `models/${served.upstream_model}`);
    assert.ok(JSON.stringify(sent.generateContentRequest.contents).includes('Hello'));
    const charges = (await gw.usage()).slice(before);
    assert.deepEqual(
      charges.map((c) => [c.operation, c.credits, c.prompt_tokens, c.bill]),
      [['count_tokens', '0', 0, undefined]],
      'one entry, under its own operation, never charged',
    );
  });

  test('other providers: an estimate, marked as one, with no upstream call and no charge', async () => {
    upstream.reset();
    const before = (await gw.usage()).length;
    const { data, response } = await sdk().messages.countTokens({ model: GPT, system: 'Be brief.', messages: hello }).withResponse();
    assert.ok(data.input_tokens > 0);
    assert.equal(response.headers.get('x-tollbooth-token-count'), 'estimated');
    assert.equal(upstream.requests.length, 0);
    assert.equal((await gw.usage()).length, before);
  });
});
