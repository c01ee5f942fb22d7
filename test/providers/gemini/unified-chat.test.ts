/**
 * The unified chat API over Gemini: the official openai SDK talks to the real sidecar, which
 * translates to generateContent / streamGenerateContent?alt=sse against a fake upstream replaying
 * the Gemini recordings. What the SDK reassembles, what Gemini received and what was metered are
 * checked against values computed here from the recordings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { APIError, RateLimitError } from 'openai';
import type { ModelRecord } from '../../../src/catalog/types.ts';
import { FakeUpstream } from '../../support/fake-upstream.ts';
import { chunkLines, fixtureJson, sseFrames } from '../../support/fixtures.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway } from '../../support/gateway.ts';
import { proves } from '../../support/capabilities.ts';
import { expectedCredits } from '../../support/expect.ts';

const MODEL = 'gemini-3.8-flash';
const WEATHER_TOOL = {
  type: 'function' as const,
  function: { name: 'weather', description: 'Weather at a place', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } },
};

/** What Gemini's usageMetadata bills: thoughts are output, outside candidatesTokenCount. */
function billed(meta: any) {
  const reasoning = meta.thoughtsTokenCount ?? 0;
  return { prompt: meta.promptTokenCount, completion: (meta.candidatesTokenCount ?? 0) + reasoning, reasoning };
}

/** The last usageMetadata in a recorded stream that carries counts. */
function lastUsage(lines: string[]) {
  return lines.map((l) => JSON.parse(l).usageMetadata).filter((u) => typeof u?.promptTokenCount === 'number').at(-1);
}

function textOf(response: any): string {
  return response.candidates[0].content.parts.filter((p: any) => typeof p.text === 'string' && !p.thought).map((p: any) => p.text).join('');
}


describe('unified chat API over Gemini, replaying recordings', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let served: ModelRecord;
  let base: string;

  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startTestGateway({ upstream });
    served = gw.catalog().resolve(MODEL).model;
    base = `/v1beta/models/${served.upstream_model}`;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a text answer (google-text.json): content, usage, credits and the translated request', async () => {
    proves('gemini', 'chat');
    upstream.reset();
    const recorded = fixtureJson('gemini/google-text.json');
    upstream.on('POST', `${base}:generateContent`, { json: recorded });

    const completion = await gw.openai().chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'How many r in strawberry?' },
      ],
      max_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['END'],
    });

    assert.equal(completion.choices[0]!.message.content, textOf(recorded));
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    const usage = billed(recorded.usageMetadata);
    assert.equal(completion.usage!.prompt_tokens, usage.prompt);
    assert.equal(completion.usage!.completion_tokens, usage.completion);
    assert.equal(completion.usage!.completion_tokens_details!.reasoning_tokens, usage.reasoning);

    const seen = upstream.last();
    assert.equal(seen.url, `${base}:generateContent`);
    assert.equal(seen.headers['x-goog-api-key'], providerKey('gemini'));
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller key never reaches Gemini');
    assert.deepEqual(seen.json(), {
      contents: [{ role: 'user', parts: [{ text: 'How many r in strawberry?' }] }],
      systemInstruction: { parts: [{ text: 'Answer briefly.' }] },
      generationConfig: { maxOutputTokens: 300, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
    });

    const record = (await gw.usage()).find((r) => r.request_id === completion._request_id)!;
    assert.equal(record.provider, 'gemini');
    assert.equal(record.model, served.model_id);
    assert.equal(record.prompt_tokens, usage.prompt);
    assert.equal(record.completion_tokens, usage.completion);
    assert.equal(record.reasoning_tokens, usage.reasoning);
    assert.equal(record.usage_source, 'reported');
    assert.ok(Math.abs(Number(record.credits) - expectedCredits(served, usage.prompt, usage.completion)) < 1e-9);
  });

  test('a streamed answer (google-text.chunks.txt) reassembles; the LAST usageMetadata is metered', async () => {
    proves('gemini', 'stream');
    upstream.reset();
    const lines = chunkLines('gemini/google-text.chunks.txt');
    upstream.on('POST', `${base}:streamGenerateContent`, { frames: sseFrames(lines) });

    const stream = await gw.openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let content = '';
    let finish: string | null = null;
    let usageChunks = 0;
    for await (const chunk of stream) {
      if (chunk.choices.length === 0) usageChunks++;
      content += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(content, lines.map((l) => textOf(JSON.parse(l))).join(''));
    assert.equal(finish, 'stop');
    assert.equal(usageChunks, 0, 'no usage chunk for a caller who did not ask');

    const seen = upstream.last();
    assert.equal(seen.url, `${base}:streamGenerateContent?alt=sse`);
    assert.equal(seen.headers['x-goog-api-key'], providerKey('gemini'));

    const usage = billed(lastUsage(lines));
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.stream, true);
    assert.equal(record.outcome, 'ok');
    assert.equal(record.prompt_tokens, usage.prompt);
    assert.equal(record.completion_tokens, usage.completion);
    assert.equal(record.usage_source, 'reported');
  });

  test('stream_options.include_usage ends the stream with a choices: [] usage chunk', async () => {
    upstream.reset();
    const lines = chunkLines('gemini/google-reasoning.chunks.txt');
    upstream.on('POST', `${base}:streamGenerateContent`, { frames: sseFrames(lines) });
    const stream = await gw.openai().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const usageChunks = [];
    for await (const chunk of stream) if (chunk.choices.length === 0) usageChunks.push(chunk.usage);
    const usage = billed(lastUsage(lines));
    assert.equal(usageChunks.length, 1);
    assert.equal(usageChunks[0]!.prompt_tokens, usage.prompt);
    assert.equal(usageChunks[0]!.completion_tokens, usage.completion);
    assert.equal(usageChunks[0]!.completion_tokens_details!.reasoning_tokens, usage.reasoning);
  });

  test('a tool call (google-tool-call.json): tool_calls, finish_reason and the translated tools', async () => {
    proves('gemini', 'tools');
    upstream.reset();
    const recorded = fixtureJson('gemini/google-tool-call.json');
    upstream.on('POST', `${base}:generateContent`, { json: recorded });
    const completion = await gw.openai().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather in San Francisco?' }],
      tools: [WEATHER_TOOL],
      tool_choice: 'required',
    });
    const choice = completion.choices[0]!;
    const call = recorded.candidates[0].content.parts[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const toolCall = choice.message.tool_calls![0]!;
    assert.equal(toolCall.type === 'function' && toolCall.function.name, call.functionCall.name);
    assert.deepEqual(toolCall.type === 'function' && JSON.parse(toolCall.function.arguments), call.functionCall.args);
    assert.match(toolCall.id, /^call_/);
    assert.equal((toolCall as any).extra_content.google.thought_signature, call.thoughtSignature, 'the thought signature travels with the call');

    const sent = upstream.last().json();
    assert.deepEqual(sent.tools, [
      { functionDeclarations: [{ name: 'weather', description: 'Weather at a place', parametersJsonSchema: WEATHER_TOOL.function.parameters }] },
    ]);
    assert.deepEqual(sent.toolConfig, { functionCallingConfig: { mode: 'ANY' } });
  });

  for (const file of ['gemini/google-tool-call.chunks.txt', 'gemini/google-tool-call-gemini3.chunks.txt']) {
    test(`the SDK's streaming helper reassembles a streamed tool call (${file})`, async () => {
    proves('gemini', 'streaming_tools');
      upstream.reset();
      const lines = chunkLines(file);
      upstream.on('POST', `${base}:streamGenerateContent`, { frames: sseFrames(lines) });
      const final = await gw
        .openai()
        .chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: 'Weather?' }], tools: [WEATHER_TOOL] })
        .finalChatCompletion();
      const expected = lines.flatMap((l) => JSON.parse(l).candidates[0].content.parts.filter((p: any) => p.functionCall).map((p: any) => p.functionCall));
      const calls = final.choices[0]!.message.tool_calls!.map((c) => (c.type === 'function' ? { name: c.function.name, args: JSON.parse(c.function.arguments) } : null));
      assert.deepEqual(calls, expected);
      assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
      const record = (await gw.usage()).at(-1)!;
      assert.equal(record.completion_tokens, billed(lastUsage(lines)).completion);
    });
  }

  test('Vertex-style streamed arguments (partialArgs) become complete tool calls', async () => {
    upstream.reset();
    const lines = chunkLines('gemini/google-stream-tool-call-arguments.chunks.txt');
    upstream.on('POST', `${base}:streamGenerateContent`, { frames: sseFrames(lines) });
    const final = await gw
      .openai()
      .chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: 'Weather?' }], tools: [WEATHER_TOOL] })
      .finalChatCompletion();
    // Read from the recording: each call opens with a name, its string arguments arrive in pieces.
    const expected: { name: string; args: Record<string, string> }[] = [];
    for (const line of lines) {
      const fc = JSON.parse(line).candidates[0].content.parts[0].functionCall;
      if (fc.name) expected.push({ name: fc.name, args: {} });
      for (const p of fc.partialArgs ?? []) {
        const key = p.jsonPath.slice(2);
        expected.at(-1)!.args[key] = (expected.at(-1)!.args[key] ?? '') + p.stringValue;
      }
    }
    const calls = final.choices[0]!.message.tool_calls!.map((c) => (c.type === 'function' ? { name: c.function.name, args: JSON.parse(c.function.arguments) } : null));
    assert.deepEqual(calls, expected);
    assert.equal(expected.length, 2);
    assert.notEqual(final.choices[0]!.message.tool_calls![0]!.id, final.choices[0]!.message.tool_calls![1]!.id);
    const usage = billed(lastUsage(lines));
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.prompt_tokens, usage.prompt);
    assert.equal(record.completion_tokens, usage.completion);
  });

  test('reasoning (google-reasoning.json): thinking tokens are billed as output and reported as reasoning', async () => {
    proves('gemini', 'thinking');
    upstream.reset();
    const recorded = fixtureJson('gemini/google-reasoning.json');
    upstream.on('POST', `${base}:generateContent`, { json: recorded });
    const completion = await gw.openai().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'How many r in strawberry?' }],
      reasoning_effort: 'high',
    });
    assert.equal(completion.choices[0]!.message.content, textOf(recorded));
    const usage = billed(recorded.usageMetadata);
    assert.equal(completion.usage!.completion_tokens, usage.completion);
    assert.equal(completion.usage!.completion_tokens_details!.reasoning_tokens, usage.reasoning);
    assert.deepEqual(upstream.last().json().generationConfig, { thinkingConfig: { thinkingLevel: 'high', includeThoughts: true } });
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.reasoning_tokens, usage.reasoning);
    assert.equal(record.completion_tokens, usage.completion);
  });

  test('images in the input: data: URLs go inline, http(s) URLs as fileData', async () => {
    proves('gemini', 'vision');
    upstream.reset();
    upstream.on('POST', `${base}:generateContent`, { json: fixtureJson('gemini/google-text.json') });
    await gw.openai().chat.completions.create({
      model: MODEL,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these.' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.JPG', detail: 'low' } },
          ],
        },
      ],
    });
    assert.deepEqual(upstream.last().json().contents[0].parts, [
      { text: 'Compare these.' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/cat.JPG' } },
    ]);

    const refused = await gw
      .openai()
      .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/image' } }] }] })
      .catch((e: unknown) => e);
    assert.ok(refused instanceof APIError && refused.status === 400, 'a URL whose media type cannot be told is refused up front');
  });

  test('a tool conversation: tool_calls → functionCall parts, tool results → functionResponse named by id', async () => {
    upstream.reset();
    upstream.on('POST', `${base}:generateContent`, { json: fixtureJson('gemini/google-text.json') });
    await gw.openai().chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'user', content: 'Weather in SF and Boston?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"location":"SF"}' }, extra_content: { google: { thought_signature: 'sig-a' } } } as any,
            { id: 'call_b', type: 'function', function: { name: 'forecast', arguments: '{"location":"Boston"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_b', content: 'rain' },
        { role: 'tool', tool_call_id: 'call_a', content: '{"temp":18}' },
      ],
      tools: [WEATHER_TOOL],
      tool_choice: { type: 'function', function: { name: 'weather' } },
    });
    const sent = upstream.last().json();
    assert.deepEqual(sent.contents.slice(1), [
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'weather', args: { location: 'SF' } }, thoughtSignature: 'sig-a' },
          { functionCall: { name: 'forecast', args: { location: 'Boston' } }, thoughtSignature: 'skip_thought_signature_validator' },
        ],
      },
      {
        role: 'user',
        parts: [{ functionResponse: { name: 'forecast', response: { content: 'rain' } } }, { functionResponse: { name: 'weather', response: { temp: 18 } } }],
      },
    ]);
    assert.deepEqual(sent.toolConfig, { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['weather'] } });
  });

  test('response_format json_schema asks Gemini for JSON against the schema', async () => {
    upstream.reset();
    upstream.on('POST', `${base}:generateContent`, { json: fixtureJson('gemini/google-text.json') });
    const schema = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false };
    await gw.openai().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Count.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'count', schema, strict: true } },
    });
    assert.deepEqual(upstream.last().json().generationConfig, { responseMimeType: 'application/json', responseJsonSchema: schema });
  });

  test('a 429 (google-429-retry-info.json) stays a 429 with Retry-After taken from RetryInfo', async () => {
    upstream.reset();
    const recorded = fixtureJson('gemini/google-429-retry-info.json');
    upstream.on('POST', `${base}:generateContent`, { status: 429, json: recorded });
    const err = await gw.openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    assert.ok(err instanceof RateLimitError);
    assert.equal(err.status, 429);
    const delay = recorded.error.details.find((d: any) => d['@type'].endsWith('RetryInfo')).retryDelay;
    assert.equal(err.headers.get('retry-after'), String(Math.ceil(Number.parseFloat(delay))));
    assert.equal(err.message.includes(recorded.error.message), true);
    assert.equal((err.error as any).upstream_code, recorded.error.status);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.status, 429);
    assert.equal(record.outcome, 'upstream_error');
  });

  test('a stream cut before its finishReason ends with an error event and is metered as truncated', async () => {
    upstream.reset();
    const lines = chunkLines('gemini/google-text.chunks.txt').slice(0, -1);
    upstream.on('POST', `${base}:streamGenerateContent`, { frames: sseFrames(lines) });
    const stream = await gw.openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let content = '';
    const err = await (async () => {
      for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
    })().catch((e: unknown) => e);
    assert.ok(err instanceof APIError, 'the SDK raises instead of reporting a clean end');
    assert.equal(content, lines.map((l) => textOf(JSON.parse(l))).join(''));
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'truncated');
    assert.equal(record.completion_tokens, billed(lastUsage(lines)).completion, 'the running count seen last');
  });
});
