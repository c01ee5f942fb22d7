/**
 * The unified API over AWS Bedrock: the official openai SDK talks to the real sidecar, which talks
 * Converse / ConverseStream to a fake Bedrock that replays the recordings (streams as real binary
 * event-stream frames) and checks the SigV4 signature of every request against the managed key.
 * Expectations are computed from the recordings, not from the code under test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { FakeUpstream } from '../../support/fake-upstream.ts';
import { fixtureJson } from '../../support/fixtures.ts';
import { CALLER_KEYS, type TestGateway } from '../../support/gateway.ts';
import { startBedrockGateway } from './bedrock-gateway.ts';
import { eventFrame, eventStreamReply, exceptionFrame, expectedFromEvents, recordedFrames, signed, TEST_AWS, verifySigV4 } from './bedrock-upstream.ts';
import { proves } from '../../support/capabilities.ts';
import { expectedCredits } from '../../support/expect.ts';

const HAIKU = { model: 'bedrock/claude-haiku-4.5', path: '/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0' };
const SONNET = { model: 'bedrock/claude-sonnet-4.6', path: '/model/us.anthropic.claude-sonnet-4-6' };

/** Converse bills cache reads and writes as input beside inputTokens. */
function billedPrompt(u: { inputTokens: number; cacheReadInputTokens?: number; cacheWriteInputTokens?: number }): number {
  return u.inputTokens + (u.cacheReadInputTokens ?? 0) + (u.cacheWriteInputTokens ?? 0);
}

function recordedText(path: string): { text: string; reasoning: string } {
  const body = fixtureJson(path);
  let text = '';
  let reasoning = '';
  for (const block of body.output.message.content) {
    text += block.text ?? '';
    reasoning += block.reasoningContent?.reasoningText?.text ?? '';
  }
  return { text, reasoning };
}

describe('unified chat API over AWS Bedrock (Converse), replaying recordings', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await FakeUpstream.start();
    // The config says eu-central-1; the credential string says us-east-1 and wins (the fake checks the scope).
    gw = await startBedrockGateway({ upstream, credentials: { bedrock: { region: 'eu-central-1' } } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const c of [
    { ...HAIKU, json: 'bedrock/amazon-bedrock-text.json', evidence: () => proves('bedrock', 'chat') },
    { ...SONNET, json: 'bedrock/amazon-bedrock-reasoning.json', evidence: () => proves('bedrock', 'thinking') },
  ]) {
    test(`${c.model}: non-streaming answer, reasoning and usage equal ${c.json}`, async () => {
      c.evidence();
      upstream.reset();
      upstream.on('POST', `${c.path}/converse`, signed({ json: fixtureJson(c.json) }));
      const recording = fixtureJson(c.json);
      const expected = recordedText(c.json);

      const completion = await gw.openai().chat.completions.create({
        model: c.model,
        messages: [
          { role: 'system', content: 'Answer briefly.' },
          { role: 'user', content: 'How many r are in strawberry?' },
        ],
      });
      const message = completion.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
      assert.equal(message.content, expected.text);
      assert.equal(message.reasoning_content, expected.reasoning || undefined);
      assert.equal(completion.choices[0]!.finish_reason, 'stop', 'end_turn → stop');
      const prompt = billedPrompt(recording.usage);
      assert.equal(completion.usage?.prompt_tokens, prompt);
      assert.equal(completion.usage?.completion_tokens, recording.usage.outputTokens);

      const seen = upstream.last();
      assert.deepEqual(await verifySigV4(seen), { ok: true });
      assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller key never reaches the upstream');
      assert.deepEqual(seen.json().system, [{ text: 'Answer briefly.' }]);
      assert.deepEqual(seen.json().messages, [{ role: 'user', content: [{ text: 'How many r are in strawberry?' }] }]);

      const served = gw.catalog().resolve(c.model).model;
      const record = (await gw.usage()).find((r) => r.request_id === completion._request_id)!;
      assert.equal(record.provider, 'bedrock');
      assert.equal(record.model, c.model);
      assert.equal(record.prompt_tokens, prompt);
      assert.equal(record.completion_tokens, recording.usage.outputTokens);
      assert.equal(record.usage_source, 'reported');
      assert.ok(Math.abs(Number(record.credits) - expectedCredits(served, prompt, recording.usage.outputTokens)) < 1e-9);
    });
  }

  for (const c of [
    { ...HAIKU, chunks: 'bedrock/amazon-bedrock-text.chunks.txt', evidence: () => proves('bedrock', 'stream') },
    { ...SONNET, chunks: 'bedrock/amazon-bedrock-reasoning.chunks.txt', evidence: () => proves('bedrock', 'stream', 'thinking') },
  ]) {
    test(`${c.model}: streamed answer reassembled by the SDK equals ${c.chunks}`, async () => {
      c.evidence();
      upstream.reset();
      upstream.on('POST', `${c.path}/converse-stream`, signed(eventStreamReply(recordedFrames(c.chunks))));
      const expected = expectedFromEvents(c.chunks);

      const stream = await gw.openai().chat.completions.create({
        model: c.model,
        messages: [{ role: 'user', content: 'How many r are in strawberry?' }],
        stream: true,
      });
      let content = '';
      let reasoning = '';
      let finish: string | null = null;
      let usageChunks = 0;
      for await (const chunk of stream) {
        if (chunk.choices.length === 0) usageChunks++;
        const delta = chunk.choices[0]?.delta as { content?: string; reasoning_content?: string } | undefined;
        content += delta?.content ?? '';
        reasoning += delta?.reasoning_content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(content, expected.text);
      assert.equal(reasoning, expected.reasoning);
      assert.equal(finish, 'stop');
      assert.equal(usageChunks, 0, 'no usage chunk when the caller did not ask for one');
      assert.deepEqual(await verifySigV4(upstream.last()), { ok: true });

      const record = (await gw.usage()).at(-1)!;
      assert.equal(record.stream, true);
      assert.equal(record.outcome, 'ok');
      assert.equal(record.prompt_tokens, billedPrompt(expected.usage));
      assert.equal(record.completion_tokens, expected.usage.outputTokens);
      assert.equal(record.usage_source, 'reported');
    });
  }

  test('stream_options.include_usage: a `choices: []` chunk carries the metadata event’s usage', async () => {
    upstream.reset();
    upstream.on('POST', `${HAIKU.path}/converse-stream`, signed(eventStreamReply(recordedFrames('bedrock/amazon-bedrock-text.chunks.txt'))));
    const expected = expectedFromEvents('bedrock/amazon-bedrock-text.chunks.txt').usage;
    const stream = await gw.openai().chat.completions.create({
      model: HAIKU.model,
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const usage = [];
    for await (const chunk of stream) if (chunk.choices.length === 0) usage.push(chunk.usage);
    assert.equal(usage.length, 1);
    assert.equal(usage[0]?.prompt_tokens, expected.inputTokens);
    assert.equal(usage[0]?.completion_tokens, expected.outputTokens);
    assert.equal(usage[0]?.total_tokens, expected.totalTokens);
  });

  test('a tool-call request maps to Converse (system, tools, toolChoice, toolUse/toolResult turns, image, inferenceConfig)', async () => {
    upstream.reset();
    // No real Bedrock tool-call recording exists (Vercel's were synthetic and not copied): this
    // response is hand-built from the Converse API reference, only to check the mapping back.
    const handBuilt = {
      output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 'tooluse_hand_built_1', name: 'weather', input: { city: 'Paris', unit: 'c' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 120, outputTokens: 30, totalTokens: 150 },
    };
    upstream.on('POST', `${HAIKU.path}/converse`, signed({ json: handBuilt }));
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

    const completion = await gw.openai().chat.completions.create({
      model: HAIKU.model,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather where this photo was taken?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'locate', arguments: '{"photo":1}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'Paris' },
        { role: 'user', content: 'And in Celsius.' },
      ],
      tools: [
        { type: 'function', function: { name: 'weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
        { type: 'function', function: { name: 'locate', parameters: { type: 'object', properties: {} } } },
      ],
      tool_choice: { type: 'function', function: { name: 'weather' } },
      max_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
    });

    const sent = upstream.last().json();
    assert.deepEqual(sent.system, [{ text: 'You are terse.' }]);
    assert.deepEqual(sent.messages, [
      { role: 'user', content: [{ text: 'Weather where this photo was taken?' }, { image: { format: 'png', source: { bytes: png } } }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'call_1', name: 'locate', input: { photo: 1 } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'call_1', content: [{ text: 'Paris' }] } }, { text: 'And in Celsius.' }] },
    ]);
    assert.deepEqual(sent.toolConfig, {
      tools: [
        { toolSpec: { name: 'weather', description: 'Current weather', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } },
        { toolSpec: { name: 'locate', inputSchema: { json: { type: 'object', properties: {} } } } },
      ],
      toolChoice: { tool: { name: 'weather' } },
    });
    assert.deepEqual(sent.inferenceConfig, { maxTokens: 300, temperature: 0.2, topP: 0.9, stopSequences: ['END'] });

    const call = completion.choices[0]!.message.tool_calls![0]!;
    assert.equal(call.id, 'tooluse_hand_built_1');
    assert.equal(call.type === 'function' && call.function.name, 'weather');
    assert.deepEqual(call.type === 'function' && JSON.parse(call.function.arguments), { city: 'Paris', unit: 'c' });
    assert.equal(completion.choices[0]!.finish_reason, 'tool_calls');
  });

  test('a streamed tool call (hand-built frames) is reassembled by the SDK’s streaming helper', async () => {
    upstream.reset();
    // Hand-built for the same reason as above: the event shapes follow the ConverseStream reference.
    const frames = [
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'tooluse_hand_built_2', name: 'weather' } } }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '{"city":' } } }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '"Paris"}' } } }),
      eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
      eventFrame('messageStop', { stopReason: 'tool_use' }),
      eventFrame('metadata', { usage: { inputTokens: 50, outputTokens: 12, totalTokens: 62 }, metrics: { latencyMs: 100 } }),
    ];
    upstream.on('POST', `${HAIKU.path}/converse-stream`, signed(eventStreamReply(frames)));
    const runner = gw.openai().chat.completions.stream({
      model: HAIKU.model,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } }],
      tool_choice: 'required',
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    assert.equal(call.type === 'function' && call.function.name, 'weather');
    assert.equal(call.type === 'function' && call.function.arguments, '{"city":"Paris"}');
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
    assert.deepEqual(upstream.last().json().toolConfig.toolChoice, { any: {} });
  });

  test('reasoning_effort becomes a Claude thinking budget (maxTokens above it, no temperature)', async () => {
    upstream.reset();
    upstream.on('POST', `${SONNET.path}/converse`, signed({ json: fixtureJson('bedrock/amazon-bedrock-reasoning.json') }));
    await gw.openai().chat.completions.create({ model: SONNET.model, messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'medium', temperature: 0.5 });
    const sent = upstream.last().json();
    const budget = sent.additionalModelRequestFields.thinking.budget_tokens;
    assert.equal(sent.additionalModelRequestFields.thinking.type, 'enabled');
    assert.ok(budget >= 1024 && sent.inferenceConfig.maxTokens > budget);
    assert.equal(sent.inferenceConfig.temperature, undefined);
  });

  test('an exception frame in the middle of a 200 stream becomes an SDK error, recorded as stream_error', async () => {
    upstream.reset();
    const frames = recordedFrames('bedrock/amazon-bedrock-text.chunks.txt').slice(0, 4);
    frames.push(exceptionFrame('modelStreamErrorException', 'The model stream failed mid-way.'));
    upstream.on('POST', `${HAIKU.path}/converse-stream`, signed(eventStreamReply(frames)));
    const stream = await gw.openai().chat.completions.create({ model: HAIKU.model, messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let content = '';
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
      })(),
      (err: unknown) => err instanceof OpenAI.APIError && /model stream failed/.test(err.message),
    );
    assert.ok(content.length > 0, 'the text before the exception reached the client');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'stream_error');
    assert.equal(record.usage_source, 'estimated', 'no metadata event: usage is estimated and marked so');
  });

  test('a stream cut before messageStop/metadata ends with an explicit error, recorded as truncated', async () => {
    upstream.reset();
    const frames = recordedFrames('bedrock/amazon-bedrock-text.chunks.txt').slice(0, 6);
    upstream.on('POST', `${HAIKU.path}/converse-stream`, signed(eventStreamReply(frames, { cut: true })));
    const stream = await gw.openai().chat.completions.create({ model: HAIKU.model, messages: [{ role: 'user', content: 'Hi' }], stream: true });
    await assert.rejects(
      (async () => {
        for await (const _ of stream);
      })(),
      OpenAI.APIError,
    );
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'truncated');
    assert.equal(record.usage_source, 'estimated');
  });

  test('ThrottlingException (x-amzn-ErrorType) comes back as a 429 with Bedrock’s message', async () => {
    upstream.reset();
    const transcribed = fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors.find((e: { provider: string }) => e.provider === 'bedrock');
    upstream.on('POST', `${HAIKU.path}/converse`, signed({ status: transcribed.status, headers: { 'x-amzn-ErrorType': transcribed.headers['x-amzn-ErrorType'] }, json: transcribed.body }));
    await assert.rejects(gw.openai().chat.completions.create({ model: HAIKU.model, messages: [{ role: 'user', content: 'Hi' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(err.status, 429);
      assert.match(err.message, /Too many tokens/);
      return true;
    });
  });

  test('Titan Text Embeddings V2 via /v1/embeddings: {inputText, dimensions} and inputTextTokenCount usage', async () => {
    upstream.reset();
    // No Bedrock embeddings recording exists: the body follows the Titan V2 reference (hand-built).
    upstream.on('POST', '/model/amazon.titan-embed-text-v2%3A0/invoke', signed({ json: { embedding: [0.25, -0.5, 0.125], inputTextTokenCount: 7 } }));
    const result = await gw.openai().embeddings.create({ model: 'bedrock/titan-embed-text-v2', input: 'The quick brown fox', dimensions: 256 });
    assert.deepEqual(upstream.last().json(), { inputText: 'The quick brown fox', dimensions: 256 });
    assert.deepEqual(result.data[0]!.embedding, [0.25, -0.5, 0.125], 'the SDK decodes the base64 it asked for');
    assert.equal(result.usage.prompt_tokens, 7);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.operation, 'embeddings');
    assert.equal(record.prompt_tokens, 7);
    assert.equal(record.completion_tokens, 0);
  });

  test('Cohere Embed on Bedrock via /v1/embeddings: {texts, input_type}; no token count, so usage is estimated', async () => {
    upstream.reset();
    upstream.on('POST', '/model/cohere.embed-v4%3A0/invoke', signed({ json: { id: 'hand-built', embeddings: { float: [[0.5, 0.25], [1, -1]] }, response_type: 'embeddings_by_type', texts: ['a', 'b'] } }));
    const result = await gw.openai().embeddings.create({ model: 'bedrock/cohere-embed-v4', input: ['a', 'b'], encoding_format: 'float' });
    assert.deepEqual(upstream.last().json(), { texts: ['a', 'b'], input_type: 'search_document' });
    assert.deepEqual(result.data.map((d) => d.embedding), [[0.5, 0.25], [1, -1]]);
    assert.equal((await gw.usage()).at(-1)!.usage_source, 'estimated');
  });
  // Last: routing then sets the refused credential aside for a cooldown.
  test('a signature the upstream rejects (403) is the gateway’s credential failing: 502 upstream_auth_failed', async () => {
    upstream.reset();
    const otherKey = { ...TEST_AWS, secretAccessKey: 'a-different-secret' };
    upstream.on('POST', `${HAIKU.path}/converse`, signed({ json: fixtureJson('bedrock/amazon-bedrock-text.json') }, otherKey));
    await assert.rejects(gw.openai().chat.completions.create({ model: HAIKU.model, messages: [{ role: 'user', content: 'Hi' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 502);
      assert.equal((err.error as { code?: string }).code, 'upstream_auth_failed');
      return true;
    });
  });
});
