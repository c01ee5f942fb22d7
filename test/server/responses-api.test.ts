/**
 * The OpenAI Responses API on the unified root: the official openai SDK (`responses.create`,
 * `responses.stream`) against the sidecar, native on OpenAI and Azure OpenAI, bridged through the
 * unified chat translation on Anthropic and Gemini, replaying recordings. The bridged event
 * sequence is checked against a recording of the real API (azure-text.1.chunks.txt).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { chunkLines, fixtureJson, fixtureText, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway, useGateway } from '../support/gateway.ts';
import { assertReportedCharge } from '../support/expect.ts';
import { anthropicFrames, fromEvents, fromMessage } from '../providers/anthropic/recordings.ts';

const GPT = 'gpt-4.1-nano';
const CLAUDE = 'claude-sonnet-4.6';
const GEMINI = 'gemini-3.8-flash';
const AZURE = 'azure/gpt-5.1';
const WEATHER = { type: 'function' as const, name: 'weather', description: 'Weather at a place', strict: false, parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } };

/** Responses usage → billed prompt and completion (reasoning is part of output_tokens). */
const billed = (usage: any) => ({ prompt: usage.input_tokens, completion: usage.output_tokens });
const recordedEvents = (path: string) => chunkLines(path).map((l) => JSON.parse(l));
/** OpenAI frames a Responses stream as `event: <type>` + data. */
const responsesFrames = (path: string) => sseFrames(chunkLines(path), { eventFromType: true });

describe('POST /v1/responses (openai SDK)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const model = (id: string) => gw.catalog().resolve(id).model;
  const lastCharge = async () => (await gw.usage()).at(-1)!;
  const assertCredits = (record: any, id: string, prompt: number, completion: number) => assertReportedCharge(record, model(id), prompt, completion);

  useGateway((u, g) => ((upstream = u), (gw = g)));

  // No OpenAI-hosted Responses recording exists; Azure OpenAI's (same wire, gpt-5.1) stands in.
  test('OpenAI native: responses.create gets the recorded Response; the body reaches /v1/responses with the upstream model', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/responses', { body: fixtureText('azure/azure-text.1.json') });
    const recorded = fixtureJson('azure/azure-text.1.json');
    const response = await gw.openai().responses.create({ model: GPT, input: 'Say a word', instructions: 'Be brief.', max_output_tokens: 16 });
    assert.equal(response.id, recorded.id);
    assert.equal(response.output_text, 'Word');
    const sent = upstream.last().json();
    assert.deepEqual(sent, { model: model(GPT).upstream_model, input: 'Say a word', instructions: 'Be brief.', max_output_tokens: 16 });
    assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('openai')}`);
    const b = billed(recorded.usage);
    assertCredits(await lastCharge(), GPT, b.prompt, b.completion);
  });

  test('OpenAI native, streamed: every recorded event reaches the SDK; usage from response.completed', async () => {
    upstream.reset();
    const path = 'azure/azure-tool-call.1.chunks.txt';
    upstream.on('POST', '/v1/responses', { frames: responsesFrames(path) });
    const events: any[] = [];
    const stream = gw.openai().responses.stream({ model: GPT, input: 'Weather in SF?', tools: [WEATHER] });
    stream.on('event', (e) => events.push(e));
    const final = await stream.finalResponse();
    const recorded = recordedEvents(path);
    assert.deepEqual(events.map((e) => e.type), recorded.map((e) => e.type));
    const call = final.output.find((o) => o.type === 'function_call') as any;
    assert.equal(call.arguments, recorded.find((e) => e.type === 'response.function_call_arguments.done').arguments);
    const b = billed(recorded.at(-1).response.usage);
    const record = await lastCharge();
    assert.equal(record.outcome, 'ok');
    assertCredits(record, GPT, b.prompt, b.completion);
  });

  test('OpenAI native: an error event inside the 200 stream reaches the SDK as an error', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/responses', { frames: responsesFrames('openai/openai-error.1.chunks.txt') });
    const stream = await gw.openai().responses.create({ model: GPT, input: 'Hi', stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    });
    assert.equal((await lastCharge()).outcome, 'stream_error');
  });

  test('Anthropic bridged: responses.create → Messages request → a Response with output_text and usage', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/messages', { body: fixtureText('anthropic/anthropic-text.json') });
    const expected = fromMessage('anthropic/anthropic-text.json');
    const response = await gw.openai().responses.create({
      model: CLAUDE,
      instructions: 'Be brief.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hello' }] }],
      max_output_tokens: 64,
      temperature: 0.2,
    });
    assert.equal(response.object, 'response');
    assert.equal(response.status, 'completed');
    assert.equal(response.model, CLAUDE);
    assert.equal(response.output_text, expected.text);
    assert.equal(response.usage?.input_tokens, expected.prompt);
    assert.equal(response.usage?.output_tokens, expected.completion);
    const sent = upstream.last().json();
    assert.equal(sent.model, model(CLAUDE).upstream_model);
    assert.equal(sent.max_tokens, 64);
    assert.equal(sent.temperature, 0.2);
    assert.ok(JSON.stringify(sent.system).includes('Be brief.'));
    assert.deepEqual(sent.messages.map((m: any) => m.role), ['user']);
    assertCredits(await lastCharge(), CLAUDE, expected.prompt, expected.completion);
  });

  test('Anthropic bridged, streamed: the event sequence of a real Responses stream, text and usage', async () => {
    upstream.reset();
    const path = 'anthropic/anthropic-text.chunks.txt';
    upstream.on('POST', '/v1/messages', { frames: anthropicFrames(path) });
    const expected = fromEvents(path);
    const events: any[] = [];
    const stream = gw.openai().responses.stream({ model: CLAUDE, input: 'Hello' });
    stream.on('event', (e) => events.push(e));
    const final = await stream.finalResponse();
    assert.equal(final.output_text, expected.text);
    const collapse = (types: string[]) => types.filter((t, i) => t !== types[i - 1]);
    assert.deepEqual(collapse(events.map((e) => e.type)), collapse(recordedEvents('azure/azure-text.1.chunks.txt').map((e) => e.type)));
    assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
    assert.equal(final.usage?.input_tokens, expected.prompt);
    assert.equal(final.usage?.output_tokens, expected.completion);
    assertCredits(await lastCharge(), CLAUDE, expected.prompt, expected.completion);
  });

  test('Gemini bridged, streamed: a tool round trip in input items, tool_choice and the recorded function call back', async () => {
    upstream.reset();
    const served = model(GEMINI);
    const path = 'gemini/google-tool-call.chunks.txt';
    upstream.on('POST', `/v1beta/models/${served.upstream_model}:streamGenerateContent`, { frames: sseFrames(chunkLines(path)) });
    const lines = recordedEvents(path);
    const call = lines[0].candidates[0].content.parts.find((p: any) => p.functionCall).functionCall;
    const meta = lines.at(-1).usageMetadata;
    const final = await gw
      .openai()
      .responses.stream({
        model: GEMINI,
        tools: [WEATHER],
        tool_choice: 'required',
        input: [
          { role: 'user', content: 'Weather in Paris?' },
          { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{"location":"Paris"}' },
          { type: 'function_call_output', call_id: 'call_1', output: 'Sunny' },
          { role: 'user', content: 'And San Francisco?' },
        ],
      })
      .finalResponse();
    const fc = final.output.find((o) => o.type === 'function_call') as any;
    assert.equal(fc.name, call.name);
    assert.deepEqual(JSON.parse(fc.arguments), call.args);
    const sent = upstream.last().json();
    const text = JSON.stringify(sent.contents);
    assert.ok(text.includes('"functionCall"') && text.includes('"functionResponse"'), 'the tool turn reached Gemini as one');
    assert.equal(sent.toolConfig?.functionCallingConfig?.mode, 'ANY');
    assertCredits(await lastCharge(), GEMINI, meta.promptTokenCount, meta.candidatesTokenCount + (meta.thoughtsTokenCount ?? 0));
  });

  test('Gemini bridged: text.format json_schema becomes the provider’s structured output', async () => {
    upstream.reset();
    const served = model(GEMINI);
    upstream.on('POST', `/v1beta/models/${served.upstream_model}:generateContent`, { json: fixtureJson('gemini/google-text.json') });
    const schema = { type: 'object', properties: { word: { type: 'string' } }, required: ['word'], additionalProperties: false };
    const response = await gw.openai().responses.create({ model: GEMINI, input: 'A word', text: { format: { type: 'json_schema', name: 'word', schema, strict: true } } });
    assert.equal(response.status, 'completed');
    const config = upstream.last().json().generationConfig;
    assert.equal(config.responseMimeType, 'application/json');
    assert.ok(config.responseSchema ?? config.responseJsonSchema, 'the schema reached Gemini');
  });

  test('DeepSeek bridged, streamed reasoning: a reasoning item with its summary text, then the message', async () => {
    upstream.reset();
    const path = 'deepseek/deepseek-reasoning.chunks.txt';
    upstream.on('POST', '/chat/completions', { frames: sseFrames(chunkLines(path), { done: true }) });
    const chunks = recordedEvents(path);
    const reasoning = chunks.map((c) => c.choices?.[0]?.delta?.reasoning_content ?? '').join('');
    const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    const usage = chunks.findLast((c) => c.usage)?.usage;
    const events: string[] = [];
    const stream = gw.openai().responses.stream({ model: 'deepseek-reasoner', input: 'Think', reasoning: { effort: 'low' } });
    stream.on('event', (e) => events.push(e.type));
    const final = await stream.finalResponse();
    assert.deepEqual(final.output.map((o) => o.type), ['reasoning', 'message']);
    assert.equal((final.output[0] as any).summary[0].text, reasoning);
    assert.equal(final.output_text, text);
    assert.ok(events.includes('response.reasoning_summary_text.delta') && events.includes('response.reasoning_summary_part.done'));
    assert.equal(final.usage?.output_tokens_details.reasoning_tokens, usage.completion_tokens_details?.reasoning_tokens ?? 0);
    assertCredits(await lastCharge(), 'deepseek-reasoner', usage.prompt_tokens, usage.completion_tokens);
  });

  test('Anthropic bridged: an error event inside the 200 stream becomes error + response.failed, as OpenAI sends them', async () => {
    upstream.reset();
    const overloaded = (fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors as any[]).find((e) => e.provider === 'anthropic' && e.status === 529).body;
    const frames = anthropicFrames('anthropic/anthropic-text.chunks.txt').slice(0, 4);
    frames.push(`event: error\ndata: ${JSON.stringify(overloaded)}\n\n`);
    upstream.on('POST', '/v1/messages', { frames });
    const stream = await gw.openai().responses.create({ model: CLAUDE, input: 'Hello', stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, (err: any) => err instanceof OpenAI.APIError && /Overloaded/.test(err.message));
    const res = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: CLAUDE, input: 'Hello', stream: true }),
    });
    const types = (await res.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)).type);
    const real = recordedEvents('openai/openai-error.1.chunks.txt').map((e) => e.type);
    assert.deepEqual(types.slice(-2), real.slice(-2));
    assert.equal((await lastCharge()).outcome, 'stream_error');
  });

  test('what a bridge cannot carry is a 400 naming it, before any upstream call', async () => {
    upstream.reset();
    const webSearch = await gw.openai().responses.create({ model: CLAUDE, input: 'Hi', tools: [{ type: 'web_search_preview' }] }).catch((e) => e);
    assert.ok(webSearch instanceof OpenAI.BadRequestError);
    assert.match(webSearch.message, /web_search_preview/);
    const previous = await gw.openai().responses.create({ model: CLAUDE, input: 'Hi', previous_response_id: 'resp_1' }).catch((e) => e);
    assert.ok(previous instanceof OpenAI.BadRequestError);
    assert.match(previous.message, /previous_response_id/);
    assert.equal(upstream.requests.length, 0);
  });
});

describe('POST /v1/responses on Azure OpenAI (native)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startTestGateway({ upstream, credentials: { azure: { base_url: `${upstream.url}/openai` } } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('the versionless v1 API: /openai/v1/responses with the deployment as model', async () => {
    upstream.reset();
    upstream.on('POST', '/openai/v1/responses', { body: fixtureText('azure/azure-text.1.json') });
    const response = await gw.openai().responses.create({ model: AZURE, input: 'Say a word' });
    assert.equal(response.output_text, 'Word');
    assert.equal(upstream.last().json().model, gw.catalog().resolve(AZURE).model.upstream_model);
    assert.equal(upstream.last().headers['api-key'], providerKey('azure'));
    const usage = fixtureJson('azure/azure-text.1.json').usage;
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.provider, 'azure');
    assert.equal(record.prompt_tokens, usage.input_tokens);
    assert.equal(record.completion_tokens, usage.output_tokens);
  });
});
