/**
 * Claude models through the unified API: the official openai SDK talks to the real sidecar, which
 * translates to Anthropic Messages and back, against a fake Anthropic replaying recordings. What the
 * SDK reassembles, what Anthropic was sent, and what was metered are checked against the recordings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { chunkLines, fixtureJson } from '../../support/fixtures.ts';
import { FakeUpstream } from '../../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../../support/gateway.ts';
import { anthropicFrames, fromEvents, fromMessage, type Expected } from './recordings.ts';
import { proves } from '../../support/capabilities.ts';
import { apiError, expectedCredits } from '../../support/expect.ts';
import { reassemble } from '../../support/stream.ts';

const MESSAGES = '/v1/messages';
const transcribed = fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors as { provider: string; status: number; body: any }[];
const weatherTool = {
  type: 'function' as const,
  function: { name: 'json', description: 'Report the weather', parameters: { type: 'object', properties: { elements: { type: 'array' } } } },
};

describe('unified chat API over Anthropic Messages, replaying recordings', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  useGateway((u, g) => ((upstream = u), (gw = g)));

  async function streamed(params: Record<string, unknown>) {
    return reassemble(await gw.openai().chat.completions.create({ model: 'claude-sonnet-4.6', messages: [{ role: 'user', content: 'Hi' }], ...params, stream: true } as any) as any);
  }


  async function lastRecord() {
    return (await gw.usage()).at(-1)!;
  }

  function assertMetered(record: any, expected: Expected, modelId: string) {
    const served = gw.catalog().resolve(modelId).model;
    assert.equal(record.provider, 'anthropic');
    assert.equal(record.model, served.model_id);
    assert.equal(record.prompt_tokens, expected.prompt);
    assert.equal(record.completion_tokens, expected.completion);
    assert.equal(record.cached_tokens, expected.cached);
    assert.equal(record.usage_source, 'reported');
    assert.ok(Math.abs(Number(record.credits) - expectedCredits(served, expected.prompt, expected.completion)) < 1e-9);
  }

  test('text: the answer, usage and what Anthropic was sent (anthropic-text.json)', async () => {
    proves('anthropic', 'chat');
    upstream.reset();
    upstream.on('POST', MESSAGES, { json: fixtureJson('anthropic/anthropic-text.json') });
    const expected = fromMessage('anthropic/anthropic-text.json');
    const served = gw.catalog().resolve('claude-sonnet-4.6').model;

    const completion = await gw.openai().chat.completions.create({
      model: 'claude-sonnet-4.6',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: 'Hello, how are you?' },
      ],
      temperature: 0.5,
      top_p: 0.9,
      stop: 'END',
    });

    const choice = completion.choices[0]!;
    assert.equal(choice.message.content, expected.text);
    assert.equal(choice.finish_reason, 'stop');
    assert.deepEqual(completion.usage, {
      prompt_tokens: expected.prompt,
      completion_tokens: expected.completion,
      total_tokens: expected.prompt + expected.completion,
      prompt_tokens_details: { cached_tokens: expected.cached },
      completion_tokens_details: { reasoning_tokens: 0 },
    });

    const seen = upstream.last();
    assert.equal(seen.path, MESSAGES);
    assert.equal(seen.headers['x-api-key'], providerKey('anthropic'));
    assert.equal(seen.headers['anthropic-version'], '2023-06-01');
    assert.equal(seen.headers.authorization, undefined, 'no bearer header goes to Anthropic');
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller key never reaches the upstream');
    const sent = seen.json();
    assert.equal(sent.model, served.upstream_model);
    assert.deepEqual(sent.system, [
      { type: 'text', text: 'Be brief.' },
      { type: 'text', text: 'Answer in English.' },
    ]);
    assert.deepEqual(sent.messages, [{ role: 'user', content: [{ type: 'text', text: 'Hello, how are you?' }] }]);
    assert.equal(sent.max_tokens, Math.min(served.max_output_tokens!, 8192), 'Anthropic requires max_tokens: the default is capped');
    assert.equal(sent.temperature, 0.5);
    assert.equal(sent.top_p, 0.9);
    assert.deepEqual(sent.stop_sequences, ['END']);
    assert.equal(sent.stream, undefined);

    const record = (await gw.usage()).find((r) => r.request_id === completion._request_id);
    assert.ok(record, 'one usage record carries the request id the SDK saw');
    assertMetered(record, expected, 'claude-sonnet-4.6');
  });

  test('streamed text with include_usage: content, finish and the usage chunk (anthropic-text.chunks.txt)', async () => {
    proves('anthropic', 'stream');
    upstream.reset();
    upstream.on('POST', MESSAGES, { frames: anthropicFrames('anthropic/anthropic-text.chunks.txt') });
    const expected = fromEvents('anthropic/anthropic-text.chunks.txt');

    const got = await streamed({ stream_options: { include_usage: true }, max_completion_tokens: 300 });
    assert.equal(got.content, expected.text);
    assert.equal(got.finish, 'stop');
    assert.equal(got.usage.prompt_tokens, expected.prompt);
    assert.equal(got.usage.completion_tokens, expected.completion);
    assert.equal(got.usage.total_tokens, expected.prompt + expected.completion);

    const sent = upstream.last().json();
    assert.equal(sent.stream, true);
    assert.equal(sent.max_tokens, 300);
    assert.equal(sent.stream_options, undefined, 'stream_options is OpenAI-only');
    const record = await lastRecord();
    assert.equal(record.stream, true);
    assert.equal(record.outcome, 'ok');
    assertMetered(record, expected, 'claude-sonnet-4.6');
  });

  test('streamed usage restated in message_delta: the latest counts are metered (anthropic-message-delta-input-tokens)', async () => {
    upstream.reset();
    upstream.on('POST', MESSAGES, { frames: anthropicFrames('anthropic/anthropic-message-delta-input-tokens.chunks.txt') });
    const expected = fromEvents('anthropic/anthropic-message-delta-input-tokens.chunks.txt');
    const start = JSON.parse(chunkLines('anthropic/anthropic-message-delta-input-tokens.chunks.txt')[0]!).message.usage;
    assert.notEqual(start.input_tokens, expected.prompt, 'the recording restates a different input count');

    const got = await streamed({});
    assert.equal(got.content, expected.text);
    assert.equal(got.usage, null, 'no usage chunk unless the caller asks');
    const record = await lastRecord();
    assert.equal(record.prompt_tokens, expected.prompt);
    assert.equal(record.completion_tokens, expected.completion);
  });

  test('tool call: tool_calls, finish_reason and the translated tools, tool_choice and history (anthropic-json-tool.1.json)', async () => {
    proves('anthropic', 'tools');
    upstream.reset();
    upstream.on('POST', MESSAGES, { json: fixtureJson('anthropic/anthropic-json-tool.1.json') });
    const expected = fromMessage('anthropic/anthropic-json-tool.1.json');

    const completion = await gw.openai().chat.completions.create({
      model: 'claude-haiku-4.5',
      messages: [
        { role: 'user', content: 'Weather in SF and Paris?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'json', arguments: '{"city":"SF"}' } },
            { id: 'call_2', type: 'function', function: { name: 'json', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'cloudy' }] },
        { role: 'user', content: 'Now as JSON.' },
      ],
      tools: [weatherTool],
      tool_choice: 'required',
      parallel_tool_calls: false,
    });

    const choice = completion.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const calls = choice.message.tool_calls!.map((c) => (c.type === 'function' ? { id: c.id, name: c.function.name, arguments: c.function.arguments } : null));
    assert.deepEqual(calls, expected.tools);
    assert.deepEqual(JSON.parse(calls[0]!.arguments), fixtureJson('anthropic/anthropic-json-tool.1.json').content[0].input);

    const sent = upstream.last().json();
    assert.equal(sent.model, gw.catalog().resolve('claude-haiku-4.5').model.upstream_model);
    assert.deepEqual(sent.tools, [{ name: 'json', description: 'Report the weather', input_schema: weatherTool.function.parameters }]);
    assert.deepEqual(sent.tool_choice, { type: 'any', disable_parallel_tool_use: true });
    assert.deepEqual(sent.messages, [
      { role: 'user', content: [{ type: 'text', text: 'Weather in SF and Paris?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'call_1', name: 'json', input: { city: 'SF' } },
          { type: 'tool_use', id: 'call_2', name: 'json', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'call_2', content: 'cloudy' },
          { type: 'text', text: 'Now as JSON.' },
        ],
      },
    ]);
    assertMetered((await gw.usage()).find((r) => r.request_id === completion._request_id), expected, 'claude-haiku-4.5');
  });

  test('streamed tool call: deltas carry indexes and reassemble to the recorded arguments (anthropic-json-tool.1.chunks.txt)', async () => {
    proves('anthropic', 'streaming_tools');
    upstream.reset();
    upstream.on('POST', MESSAGES, { frames: anthropicFrames('anthropic/anthropic-json-tool.1.chunks.txt') });
    const expected = fromEvents('anthropic/anthropic-json-tool.1.chunks.txt');

    const got = await streamed({ model: 'claude-haiku-4.5', tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'json' } } });
    assert.deepEqual(got.calls, expected.tools);
    assert.equal(got.finish, 'tool_calls');
    assert.deepEqual(upstream.last().json().tool_choice, { type: 'tool', name: 'json' });
    const record = await lastRecord();
    assert.equal(record.outcome, 'ok');
    assertMetered(record, expected, 'claude-haiku-4.5');
  });

  test('the SDK streaming helper reassembles text then a tool call without arguments (anthropic-tool-no-args.chunks.txt)', async () => {
    upstream.reset();
    upstream.on('POST', MESSAGES, { frames: anthropicFrames('anthropic/anthropic-tool-no-args.chunks.txt') });
    const expected = fromEvents('anthropic/anthropic-tool-no-args.chunks.txt');
    assert.equal(expected.tools[0]!.arguments, '', 'Anthropic streams no argument text for a call without arguments');

    const runner = gw.openai().chat.completions.stream({
      model: 'claude-sonnet-4.6',
      messages: [{ role: 'user', content: 'Update the issue list' }],
      tools: [{ type: 'function', function: { name: 'updateIssueList', parameters: { type: 'object', properties: {} } } }],
    });
    const final = await runner.finalChatCompletion();
    const message = final.choices[0]!.message;
    assert.equal(message.content, expected.text);
    const call = message.tool_calls![0]!;
    assert.equal(call.type === 'function' && call.function.name, expected.tools[0]!.name);
    assert.equal(call.id, expected.tools[0]!.id);
    assert.deepEqual(call.type === 'function' && JSON.parse(call.function.arguments), {}, 'no arguments arrive as {}, as in the non-streamed answer');
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
  });

  test('thinking → reasoning_content; reasoning_effort → a thinking budget (anthropic-clear-thinking.1.json)', async () => {
    proves('anthropic', 'thinking');
    upstream.reset();
    upstream.on('POST', MESSAGES, { json: fixtureJson('anthropic/anthropic-clear-thinking.1.json') });
    const expected = fromMessage('anthropic/anthropic-clear-thinking.1.json');
    const served = gw.catalog().resolve('claude-sonnet-4.6').model;

    const completion = await gw.openai().chat.completions.create({
      model: 'claude-sonnet-4.6',
      messages: [{ role: 'user', content: 'What is 925 / 5?' }],
      reasoning_effort: 'medium',
    });
    const message = completion.choices[0]!.message as any;
    assert.equal(message.reasoning_content, expected.thinking);
    assert.equal(message.content, expected.text);

    const sent = upstream.last().json();
    assert.deepEqual(sent.thinking, { type: 'enabled', budget_tokens: 4096 });
    assert.equal(sent.max_tokens, Math.min(served.max_output_tokens!, 8192 + 4096), 'the default leaves room for the answer beside the budget');
  });

  test('a caller max_completion_tokens bounds the thinking budget; too small a one is refused before any call', async () => {
    upstream.reset();
    upstream.on('POST', MESSAGES, { json: fixtureJson('anthropic/anthropic-clear-thinking.1.json') });
    await gw.openai().chat.completions.create({
      model: 'claude-sonnet-4.6',
      messages: [{ role: 'user', content: 'Think hard' }],
      reasoning_effort: 'high',
      max_completion_tokens: 3000,
    });
    const sent = upstream.last().json();
    assert.equal(sent.max_tokens, 3000);
    assert.deepEqual(sent.thinking, { type: 'enabled', budget_tokens: 2999 }, 'Anthropic needs budget_tokens < max_tokens');

    const seen = upstream.requests.length;
    const err = await apiError(
      gw.openai().chat.completions.create({ model: 'claude-sonnet-4.6', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'low', max_completion_tokens: 500 }),
    );
    assert.equal(err.status, 400);
    assert.equal((err.error as any).code, 'invalid_request');
    assert.equal(upstream.requests.length, seen, 'nothing reached Anthropic');
  });

  test('streamed thinking → reasoning_content deltas (anthropic-clear-thinking.1.chunks.txt)', async () => {
    upstream.reset();
    upstream.on('POST', MESSAGES, { frames: anthropicFrames('anthropic/anthropic-clear-thinking.1.chunks.txt') });
    const expected = fromEvents('anthropic/anthropic-clear-thinking.1.chunks.txt');
    const got = await streamed({ reasoning_effort: 'low' });
    assert.equal(got.reasoning, expected.thinking);
    assert.equal(got.content, expected.text);
    assert.deepEqual(upstream.last().json().thinking, { type: 'enabled', budget_tokens: 1024 });
    assertMetered(await lastRecord(), expected, 'claude-sonnet-4.6');
  });

  test('thinking tokens reported by Anthropic appear as reasoning_tokens (anthropic-claude-opus-5-reasoning-high.1.json)', async () => {
    upstream.reset();
    const recorded = fixtureJson('anthropic/anthropic-claude-opus-5-reasoning-high.1.json');
    upstream.on('POST', MESSAGES, { json: recorded });
    const completion = await gw.openai().chat.completions.create({ model: 'claude-opus-5.5', messages: [{ role: 'user', content: 'Roots?' }], reasoning_effort: 'high' });
    assert.equal((completion.choices[0]!.message as any).reasoning_content, fromMessage('anthropic/anthropic-claude-opus-5-reasoning-high.1.json').thinking);
    assert.equal(completion.usage!.completion_tokens, recorded.usage.output_tokens, 'thinking is part of output_tokens');
    assert.equal(completion.usage!.completion_tokens_details!.reasoning_tokens, recorded.usage.output_tokens_details.thinking_tokens);
    const record = (await gw.usage()).find((r) => r.request_id === completion._request_id)!;
    assert.equal(record.reasoning_tokens, recorded.usage.output_tokens_details.thinking_tokens);
  });

  test('refusal → finish_reason content_filter with the explanation, streamed or not (anthropic-refusal)', async () => {
    upstream.reset();
    const recorded = fixtureJson('anthropic/anthropic-refusal.json');
    upstream.on('POST', MESSAGES, { json: recorded });
    const completion = await gw.openai().chat.completions.create({ model: 'claude-sonnet-4.6', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(completion.choices[0]!.finish_reason, 'content_filter');
    assert.equal(completion.choices[0]!.message.content, null);
    assert.equal(completion.choices[0]!.message.refusal, recorded.stop_details.explanation);

    upstream.reset();
    upstream.on('POST', MESSAGES, { frames: anthropicFrames('anthropic/anthropic-refusal.chunks.txt') });
    const got = await streamed({});
    assert.equal(got.finish, 'content_filter');
    assert.equal(got.refusal, JSON.parse(chunkLines('anthropic/anthropic-refusal.chunks.txt').at(-2)!).delta.stop_details.explanation);
    assertMetered(await lastRecord(), fromEvents('anthropic/anthropic-refusal.chunks.txt'), 'claude-sonnet-4.6');
  });

  test('images: data: URLs become base64 sources, http(s) URLs url sources', async () => {
    proves('anthropic', 'vision');
    upstream.reset();
    upstream.on('POST', MESSAGES, { json: fixtureJson('anthropic/anthropic-text.json') });
    await gw.openai().chat.completions.create({
      model: 'claude-sonnet-4.6',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these.' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
          ],
        },
      ],
    });
    assert.deepEqual(upstream.last().json().messages[0].content, [
      { type: 'text', text: 'Compare these.' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  test('an error event inside the 200 stream surfaces as an SDK error and is recorded as a stream error', async () => {
    upstream.reset();
    const overloaded = transcribed.find((e) => e.provider === 'anthropic' && e.status === 529)!.body;
    const frames = anthropicFrames('anthropic/anthropic-text.chunks.txt').slice(0, 4);
    frames.push(`event: error\ndata: ${JSON.stringify(overloaded)}\n\n`);
    upstream.on('POST', MESSAGES, { frames });

    const err = await apiError(streamed({}));
    assert.match(err.message, /Overloaded/);
    const record = await lastRecord();
    assert.equal(record.outcome, 'stream_error');
    assert.equal(record.prompt_tokens, fromEvents('anthropic/anthropic-text.chunks.txt').prompt, 'the input counted by message_start is kept');
    assert.equal(record.usage_source, 'estimated', 'the output count never arrived');
  });

  test('a stream cut before message_stop ends with an explicit error, never a clean end', async () => {
    upstream.reset();
    upstream.on('POST', MESSAGES, { frames: anthropicFrames('anthropic/anthropic-text.chunks.txt').slice(0, 6), cut: true });
    const err = await apiError(streamed({}));
    assert.match(err.message, /ended before the response was complete/);
    assert.equal((await lastRecord()).outcome, 'truncated');
  });

  // 429 last: its Retry-After rightly holds the Anthropic deployment back for the rest of the file.
  for (const [status, retryAfter] of [[529, null], [429, '7']] as const) {
    test(`an upstream ${status} keeps its status and message`, async () => {
      upstream.reset();
      const reported = transcribed.find((e) => e.provider === 'anthropic' && e.status === status)!;
      upstream.on('POST', MESSAGES, { status, headers: retryAfter ? { 'retry-after': retryAfter } : {}, json: reported.body });
      const err = await apiError(gw.openai().chat.completions.create({ model: 'claude-sonnet-4.6', messages: [{ role: 'user', content: 'x' }] }));
      assert.equal(err.status, status);
      assert.ok(err.message.includes(reported.body.error.message));
      assert.equal(err.headers?.get('retry-after') ?? null, retryAfter);
      assert.equal((await lastRecord()).outcome, 'upstream_error');
    });
  }
});
