/**
 * Cohere models through the unified API: the official openai SDK talks to the real sidecar, which
 * translates to Cohere v2 chat/embed and back, against a fake Cohere replaying recordings. What the
 * SDK reassembles, what Cohere was sent, and what was metered (billed_units) are checked against the
 * recordings.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fixtureJson } from '../../support/fixtures.ts';
import { FakeUpstream } from '../../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../../support/gateway.ts';
import { cohereFrames, fromChat, fromEvents, type Expected } from './recordings.ts';
import { proves } from '../../support/capabilities.ts';
import { apiError } from '../../support/expect.ts';
import { reassemble } from '../../support/stream.ts';

const CHAT = '/v2/chat';
const EMBED = '/v2/embed';
const tools = [
  { type: 'function' as const, function: { name: 'weather', description: 'Weather in a city', parameters: { type: 'object', properties: { location: { type: 'string' } } } } },
  { type: 'function' as const, function: { name: 'cityAttractions', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
];

describe('unified API over Cohere v2, replaying recordings', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  useGateway((u, g) => ((upstream = u), (gw = g)));

  async function streamed(params: Record<string, unknown>) {
    return reassemble(await gw.openai().chat.completions.create({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Hi' }], ...params, stream: true } as any) as any);
  }


  async function assertMetered(expected: Expected, requestId?: string) {
    const records = await gw.usage();
    const record = requestId ? records.find((r) => r.request_id === requestId)! : records.at(-1)!;
    assert.equal(record.provider, 'cohere');
    assert.equal(record.prompt_tokens, expected.prompt, 'billed_units, not tokens');
    assert.equal(record.completion_tokens, expected.completion);
    assert.equal(record.usage_source, 'reported');
    return record;
  }

  test('text: the answer, billed usage and what Cohere was sent (cohere-text.json)', async () => {
    proves('cohere', 'chat');
    upstream.reset();
    const recorded = fixtureJson('cohere/cohere-text.json');
    upstream.on('POST', CHAT, { json: recorded });
    const expected = fromChat('cohere/cohere-text.json');
    assert.notEqual(recorded.usage.tokens.input_tokens, expected.prompt, 'the recording’s tokens and billed_units differ');

    const completion = await gw.openai().chat.completions.create({
      model: 'command-a-03-2025',
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: 'Capital of France?' },
      ],
      max_completion_tokens: 50,
      temperature: 0.3,
      top_p: 0.8,
      stop: ['\n\n'],
      seed: 7,
    });
    assert.equal(completion.choices[0]!.message.content, expected.text);
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    assert.equal(completion.usage!.prompt_tokens, expected.prompt);
    assert.equal(completion.usage!.completion_tokens, expected.completion);
    assert.equal(completion.usage!.total_tokens, expected.prompt + expected.completion);

    const seen = upstream.last();
    assert.equal(seen.path, CHAT);
    assert.equal(seen.headers.authorization, `Bearer ${providerKey('cohere')}`);
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller key never reaches the upstream');
    assert.deepEqual(seen.json(), {
      model: gw.catalog().resolve('command-a-03-2025').model.upstream_model,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Capital of France?' },
      ],
      max_tokens: 50,
      temperature: 0.3,
      seed: 7,
      p: 0.8,
      stop_sequences: ['\n\n'],
    });
    const record = await assertMetered(expected, completion._request_id!);
    assert.equal(record.model, 'command-a-03-2025');
  });

  test('streamed text with include_usage (cohere-text.chunks.txt)', async () => {
    proves('cohere', 'stream');
    upstream.reset();
    upstream.on('POST', CHAT, { frames: cohereFrames('cohere/cohere-text.chunks.txt') });
    const expected = fromEvents('cohere/cohere-text.chunks.txt');
    const got = await streamed({ stream_options: { include_usage: true } });
    assert.equal(got.content, expected.text);
    assert.equal(got.finish, 'stop');
    assert.equal(got.usage.prompt_tokens, expected.prompt);
    assert.equal(got.usage.completion_tokens, expected.completion);
    assert.equal(upstream.last().json().stream, true);
    const record = await assertMetered(expected);
    assert.equal(record.outcome, 'ok');
  });

  test('tool calls: tool_plan as content, the calls, and the translated tools, tool_choice and history (cohere-tool-call.json)', async () => {
    proves('cohere', 'tools');
    upstream.reset();
    upstream.on('POST', CHAT, { json: fixtureJson('cohere/cohere-tool-call.json') });
    const expected = fromChat('cohere/cohere-tool-call.json');

    const completion = await gw.openai().chat.completions.create({
      model: 'command-a-03-2025',
      messages: [
        { role: 'user', content: 'Weather in SF?' },
        { role: 'assistant', content: 'I will look it up.', tool_calls: [{ id: 'w1', type: 'function', function: { name: 'weather', arguments: '{"location":"SF"}' } }] },
        { role: 'tool', tool_call_id: 'w1', content: 'sunny' },
        { role: 'user', content: 'And attractions?' },
      ],
      tools,
      tool_choice: 'required',
    });
    const message = completion.choices[0]!.message;
    assert.equal(completion.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(message.content, expected.toolPlan);
    assert.deepEqual(
      message.tool_calls!.map((c) => (c.type === 'function' ? { id: c.id, name: c.function.name, arguments: c.function.arguments } : null)),
      expected.tools,
    );

    const sent = upstream.last().json();
    assert.deepEqual(sent.tools, tools);
    assert.equal(sent.tool_choice, 'REQUIRED');
    assert.deepEqual(sent.messages.slice(1, 3), [
      { role: 'assistant', tool_plan: 'I will look it up.', tool_calls: [{ id: 'w1', type: 'function', function: { name: 'weather', arguments: '{"location":"SF"}' } }] },
      { role: 'tool', tool_call_id: 'w1', content: 'sunny' },
    ]);
    await assertMetered(expected, completion._request_id!);
  });

  test('a named tool_choice keeps only that tool and requires it', async () => {
    upstream.reset();
    upstream.on('POST', CHAT, { json: fixtureJson('cohere/cohere-tool-call.json') });
    await gw.openai().chat.completions.create({
      model: 'command-a-03-2025',
      messages: [{ role: 'user', content: 'Weather?' }],
      tools,
      tool_choice: { type: 'function', function: { name: 'weather' } },
    });
    const sent = upstream.last().json();
    assert.deepEqual(sent.tools, [tools[0]]);
    assert.equal(sent.tool_choice, 'REQUIRED');
  });

  test('streamed tool calls: two calls with their own indexes, arguments as recorded (cohere-tool-call.chunks.txt)', async () => {
    proves('cohere', 'streaming_tools');
    upstream.reset();
    upstream.on('POST', CHAT, { frames: cohereFrames('cohere/cohere-tool-call.chunks.txt') });
    const expected = fromEvents('cohere/cohere-tool-call.chunks.txt');
    const got = await streamed({ tools });
    assert.deepEqual(got.calls, expected.tools);
    assert.equal(got.content, expected.toolPlan);
    assert.equal(got.finish, 'tool_calls');
    await assertMetered(expected);
  });

  test('the SDK streaming helper assembles the streamed tool calls', async () => {
    upstream.reset();
    upstream.on('POST', CHAT, { frames: cohereFrames('cohere/cohere-tool-call.chunks.txt') });
    const expected = fromEvents('cohere/cohere-tool-call.chunks.txt');
    const final = await gw.openai().chat.completions.stream({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'SF?' }], tools }).finalChatCompletion();
    const calls = final.choices[0]!.message.tool_calls!.map((c) => (c.type === 'function' ? JSON.parse(c.function.arguments) : null));
    assert.deepEqual(calls, expected.tools.map((t) => JSON.parse(t.arguments)));
  });

  test('thinking → reasoning_content; reasoning_effort → thinking budget (cohere-reasoning.json)', async () => {
    proves('cohere', 'thinking');
    upstream.reset();
    upstream.on('POST', CHAT, { json: fixtureJson('cohere/cohere-reasoning.json') });
    const expected = fromChat('cohere/cohere-reasoning.json');
    const completion = await gw.openai().chat.completions.create({
      model: 'command-a-reasoning-08-2025',
      messages: [{ role: 'user', content: '2 + 2?' }],
      reasoning_effort: 'medium',
    });
    const message = completion.choices[0]!.message as any;
    assert.equal(message.reasoning_content, expected.thinking);
    assert.equal(message.content, expected.text);
    assert.deepEqual(upstream.last().json().thinking, { type: 'enabled', token_budget: 4096 });
    await assertMetered(expected, completion._request_id!);
  });

  test('streamed thinking → reasoning_content deltas (cohere-reasoning.chunks.txt)', async () => {
    upstream.reset();
    upstream.on('POST', CHAT, { frames: cohereFrames('cohere/cohere-reasoning.chunks.txt') });
    const expected = fromEvents('cohere/cohere-reasoning.chunks.txt');
    const got = await streamed({ model: 'command-a-reasoning-08-2025', reasoning_effort: 'none' });
    assert.equal(got.reasoning, expected.thinking);
    assert.equal(got.content, expected.text);
    assert.deepEqual(upstream.last().json().thinking, { type: 'disabled' });
    await assertMetered(expected);
  });

  test('MAX_TOKENS → finish_reason length; json_schema → json_object with the schema (cohere-max-tokens.json)', async () => {
    upstream.reset();
    upstream.on('POST', CHAT, { json: fixtureJson('cohere/cohere-max-tokens.json') });
    const schema = { type: 'object', properties: { history: { type: 'string' } }, required: ['history'] };
    const completion = await gw.openai().chat.completions.create({
      model: 'command-a-03-2025',
      messages: [{ role: 'user', content: 'History of Rome' }],
      max_tokens: 4,
      response_format: { type: 'json_schema', json_schema: { name: 'h', schema } },
    });
    assert.equal(completion.choices[0]!.finish_reason, 'length');
    assert.equal(completion.choices[0]!.message.content, fromChat('cohere/cohere-max-tokens.json').text);
    assert.deepEqual(upstream.last().json().response_format, { type: 'json_object', json_schema: schema });
  });

  test('embeddings → /v2/embed; vectors (base64 by the SDK’s default) and billed input tokens (cohere-embedding.json)', async () => {
    proves('cohere', 'embeddings');
    upstream.reset();
    const recorded = fixtureJson('cohere/cohere-embedding.json');
    upstream.on('POST', EMBED, { json: recorded });
    const served = gw.catalog().resolve('embed-v4.0').model;

    const result = await gw.openai().embeddings.create({ model: 'embed-v4.0', input: recorded.texts });
    assert.deepEqual(
      result.data.map((d) => Array.from(d.embedding)),
      recorded.embeddings.float.map((v: number[]) => v.map(Math.fround)),
      'float32, as base64 embeddings are',
    );
    assert.equal(result.usage.prompt_tokens, recorded.meta.billed_units.input_tokens);
    assert.deepEqual(upstream.last().json(), {
      model: served.upstream_model,
      texts: recorded.texts,
      input_type: 'search_document',
      embedding_types: ['float'],
    });
    assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('cohere')}`);

    const record = (await gw.usage()).find((r) => r.request_id === result._request_id)!;
    assert.equal(record.operation, 'embeddings');
    assert.equal(record.model, 'embed-v4.0');
    assert.equal(record.prompt_tokens, recorded.meta.billed_units.input_tokens);
    assert.equal(record.completion_tokens, 0);
    const expectedCredits = 1 + ((recorded.meta.billed_units.input_tokens * served.input_usd_per_1m!) / 1e6) * 1.05 * 1000;
    assert.ok(Math.abs(Number(record.credits) - expectedCredits) < 1e-9);
  });

  test('float embeddings are returned as recorded; a caller’s input_type and dimensions reach Cohere', async () => {
    upstream.reset();
    const recorded = fixtureJson('cohere/cohere-embedding.json');
    upstream.on('POST', EMBED, { json: recorded });
    const result = await gw.openai().embeddings.create({ model: 'embed-v4.0', input: recorded.texts[0], encoding_format: 'float', dimensions: 256, input_type: 'search_query' } as any);
    assert.deepEqual(result.data[0]!.embedding, recorded.embeddings.float[0]);
    const sent = upstream.last().json();
    assert.deepEqual(sent.texts, [recorded.texts[0]]);
    assert.equal(sent.input_type, 'search_query');
    assert.equal(sent.output_dimension, 256);
  });

  test('a stream cut before message-end ends with an explicit error, never a clean end', async () => {
    upstream.reset();
    upstream.on('POST', CHAT, { frames: cohereFrames('cohere/cohere-text.chunks.txt').slice(0, -1), cut: true });
    const err = await apiError(streamed({}));
    assert.match(err.message, /ended before the response was complete/);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'truncated');
    assert.equal(record.usage_source, 'estimated');
  });

  test('an upstream 429 keeps its status and Cohere’s message (hand-written {message} body)', async () => {
    upstream.reset();
    upstream.on('POST', CHAT, { status: 429, json: { id: 'x', message: 'You are using a Trial key, which is limited to 10 API calls / minute.' } });
    const err = await apiError(gw.openai().chat.completions.create({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(err.status, 429);
    assert.match(err.message, /Trial key/);
  });

  // Last: a refused credential rightly keeps Cohere out of rotation for a while.
  test('Cohere refusing the managed key (recorded 401 body) is a 502, not the caller’s 401', async () => {
    upstream.reset();
    const reported = (fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors as any[]).find((e) => e.provider === 'cohere');
    upstream.on('POST', CHAT, { status: reported.status, json: reported.body });
    const err = await apiError(gw.openai().chat.completions.create({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(err.status, 502);
    assert.equal((err.error as any).code, 'upstream_auth_failed');
  });
});
