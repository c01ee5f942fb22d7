/**
 * The unified API over Azure OpenAI: the official openai SDK talks to the real sidecar, which
 * addresses Azure the Azure way (deployment in the path, api-version in the query, api-key header)
 * and otherwise reuses the OpenAI wire code. Azure's chat stream is replayed from
 * azure-model-router.1.chunks.txt; no Azure chat.completions JSON or embeddings recording exists, so
 * those cases borrow OpenAI's (the wire is OpenAI's) and say so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RateLimitError } from 'openai';
import { FakeUpstream } from '../../support/fake-upstream.ts';
import { chunkLines, fixtureJson, sseFrames } from '../../support/fixtures.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway } from '../../support/gateway.ts';
import { proves, provesBorrowed } from '../../support/capabilities.ts';

const MODEL = 'azure/gpt-5.1';
const API_VERSION = '2024-10-21';
const ROUTER = 'azure/azure-model-router.1.chunks.txt';

function routerExpectations() {
  const chunks = chunkLines(ROUTER).map((l) => JSON.parse(l));
  return {
    content: chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''),
    usage: chunks.find((c) => c.usage)!.usage,
  };
}

describe('unified API over Azure OpenAI', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let deployment: string;

  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startTestGateway({ upstream, credentials: { azure: { base_url: `${upstream.url}/openai`, api_version: API_VERSION } } });
    deployment = gw.catalog().resolve(MODEL).model.upstream_model;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a streamed chat (model-router recording) reassembles; the prompt-filter chunk is not taken for usage', async () => {
    proves('azure', 'stream');
    upstream.reset();
    upstream.on('POST', `/openai/deployments/${deployment}/chat/completions`, { frames: sseFrames(chunkLines(ROUTER), { done: true }) });
    const stream = await gw.openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Capital of Denmark?' }], stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk as any);
    const expected = routerExpectations();

    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), expected.content);
    assert.ok(chunks[0].prompt_filter_results, 'Azure’s leading prompt-filter chunk reaches the caller');
    assert.deepEqual(chunks[0].choices, []);
    assert.ok(chunks.some((c) => c.choices[0]?.content_filter_results?.hate), 'content_filter_results pass through');
    assert.ok(!chunks.some((c) => c.usage), 'the usage chunk Tollbooth asked for is hidden');

    const seen = upstream.last();
    assert.equal(new URL(seen.url, 'http://x').searchParams.get('api-version'), API_VERSION);
    assert.equal(seen.headers['api-key'], providerKey('azure'));
    assert.equal(seen.headers.authorization, undefined);
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member));
    assert.equal(seen.json().stream_options?.include_usage, true, 'usage asked for on the caller’s behalf');

    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.provider, 'azure');
    assert.equal(record.model, MODEL);
    assert.equal(record.outcome, 'ok');
    assert.equal(record.prompt_tokens, expected.usage.prompt_tokens);
    assert.equal(record.completion_tokens, expected.usage.completion_tokens);
    assert.equal(record.reasoning_tokens, expected.usage.completion_tokens_details.reasoning_tokens);
  });

  test('a caller who asks for stream usage gets the recorded usage chunk, after the prompt-filter chunk', async () => {
    upstream.reset();
    upstream.on('POST', `/openai/deployments/${deployment}/chat/completions`, { frames: sseFrames(chunkLines(ROUTER), { done: true }) });
    const stream = await gw.openai().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Capital of Denmark?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const empty = [];
    for await (const chunk of stream) if (chunk.choices.length === 0) empty.push(chunk as any);
    assert.equal(empty.length, 2);
    assert.ok(empty[0].prompt_filter_results && !empty[0].usage);
    assert.deepEqual(empty[1].usage, routerExpectations().usage);
  });

  test('a non-streamed chat (OpenAI recording: Azure’s wire is OpenAI’s) goes to the deployment path', async () => {
    provesBorrowed('azure', 'chat');
    upstream.reset();
    const recorded = fixtureJson('openai/openai-text.json');
    upstream.on('POST', `/openai/deployments/${deployment}/chat/completions`, { json: recorded });
    const completion = await gw.openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(completion.choices[0]!.message.content, recorded.choices[0].message.content);
    assert.equal(upstream.last().url, `/openai/deployments/${deployment}/chat/completions?api-version=${API_VERSION}`);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.prompt_tokens, recorded.usage.prompt_tokens);
    assert.equal(record.completion_tokens, recorded.usage.completion_tokens);
  });

  test('embeddings go to the embedding deployment (OpenAI recording)', async () => {
    provesBorrowed('azure', 'embeddings');
    upstream.reset();
    const recorded = fixtureJson('openai/openai-embedding.json');
    const embedding = gw.catalog().resolve('azure/text-embedding-3-small').model.upstream_model;
    upstream.on('POST', `/openai/deployments/${embedding}/embeddings`, { json: recorded });
    const result = await gw.openai().embeddings.create({ model: 'azure/text-embedding-3-small', input: ['a', 'b'], encoding_format: 'float' });
    assert.deepEqual(result.data.map((d) => d.embedding), recorded.data.map((d: any) => d.embedding));
    assert.equal(upstream.last().url, `/openai/deployments/${embedding}/embeddings?api-version=${API_VERSION}`);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.prompt_tokens, recorded.usage.prompt_tokens);
    assert.equal(record.completion_tokens, 0);
  });

  test('an Azure 429 keeps its status and Retry-After', async () => {
    upstream.reset();
    upstream.on('POST', `/openai/deployments/${deployment}/chat/completions`, {
      status: 429,
      headers: { 'retry-after': '7' },
      json: fixtureJson('openai/openai-error.1.json'),
    });
    const err = await gw.openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    assert.ok(err instanceof RateLimitError);
    assert.equal(err.headers.get('retry-after'), '7');
  });
});

describe('unified API over Azure OpenAI without an api_version: the versionless v1 API', () => {
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

  test('the deployment is named in the body and the path is /openai/v1/…', async () => {
    upstream.on('POST', '/openai/v1/chat/completions', { frames: sseFrames(chunkLines(ROUTER), { done: true }) });
    const stream = await gw.openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let content = '';
    for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(content, routerExpectations().content);
    const seen = upstream.last();
    assert.equal(seen.url, '/openai/v1/chat/completions');
    assert.equal(seen.json().model, gw.catalog().resolve(MODEL).model.upstream_model);
    assert.equal(seen.headers['api-key'], providerKey('azure'));
  });
});
