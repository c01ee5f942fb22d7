/**
 * Unified embeddings over Gemini's batchEmbedContents, and Gemini failures as unified callers see
 * them. No batchEmbedContents recording exists (google-vertex-embedding.json is Vertex's `predict`
 * shape, a different API), so the embedding bodies here are written from the documented shape;
 * the bad-key body is transcribed (_transcribed/error-bodies-from-public-reports.json).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APIError } from 'openai';
import { FakeUpstream } from '../../support/fake-upstream.ts';
import { chunkLines, fixtureJson, sseFrames } from '../../support/fixtures.ts';
import { providerKey, type TestGateway, useGateway } from '../../support/gateway.ts';

const EMBEDDING_MODEL = 'gemini-embedding-001';
const CHAT_MODEL = 'gemini-3.8-flash';
const VECTORS = [
  [0.5138951, 0.857853, -0.25],
  [-0.5045317, -0.8633931, 0.125],
];

describe('Gemini embeddings and errors through the unified API', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  useGateway((u, g) => ((upstream = u), (gw = g)));

  test('embeddings go to :batchEmbedContents; without a reported count usage is estimated and says so', async () => {
    upstream.reset();
    const upstreamModel = gw.catalog().resolve(EMBEDDING_MODEL).model.upstream_model;
    upstream.on('POST', `/v1beta/models/${upstreamModel}:batchEmbedContents`, { json: { embeddings: VECTORS.map((values) => ({ values })) } });
    const input = ['The quick brown fox', 'jumps over the lazy dog'];
    const result = await gw.openai().embeddings.create({ model: EMBEDDING_MODEL, input, dimensions: 3 });

    // The SDK asks for base64 by default and decodes float32 values.
    assert.deepEqual(result.data.map((d) => d.embedding), VECTORS.map((v) => v.map(Math.fround)));
    assert.deepEqual(result.data.map((d) => d.index), [0, 1]);
    const seen = upstream.last();
    assert.equal(seen.headers['x-goog-api-key'], providerKey('gemini'));
    assert.deepEqual(seen.json(), {
      requests: input.map((text) => ({ model: `models/${upstreamModel}`, content: { parts: [{ text }] }, outputDimensionality: 3 })),
    });

    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.operation, 'embeddings');
    assert.equal(record.usage_source, 'estimated');
    assert.equal(record.completion_tokens, 0);
    assert.ok(record.prompt_tokens > 0);
    assert.equal(result.usage.prompt_tokens, record.prompt_tokens);
    assert.equal((result.usage as any).estimated, true);
  });

  test('a reported token count (usageMetadata) is metered as reported', async () => {
    upstream.reset();
    upstream.on('POST', /:batchEmbedContents$/, {
      json: { embeddings: VECTORS.map((values) => ({ values })), usageMetadata: { promptTokenCount: 12 } },
    });
    const result = await gw.openai().embeddings.create({ model: EMBEDDING_MODEL, input: ['a', 'b'], encoding_format: 'float' });
    assert.deepEqual(result.data[0]!.embedding, VECTORS[0]);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.usage_source, 'reported');
    assert.equal(record.prompt_tokens, 12);
    assert.equal(result.usage.prompt_tokens, 12);
  });

  test('Gemini refusing the managed key (400 API_KEY_INVALID) is a 502, not the caller’s 400', async () => {
    upstream.reset();
    const transcribed = fixtureJson('_transcribed/error-bodies-from-public-reports.json').errors.find((e: any) => e.provider === 'gemini');
    upstream.on('POST', /:generateContent$/, { status: transcribed.status, json: transcribed.body });
    const err = await gw.openai().chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    assert.ok(err instanceof APIError);
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_auth_failed');
  });

  test('an error object inside a 200 stream ends the client’s stream with an error event', async () => {
    upstream.reset();
    const first = chunkLines('gemini/google-text.chunks.txt')[0]!;
    // Written from the documented error shape: no recording of an in-stream Gemini error exists.
    const error = JSON.stringify({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } });
    upstream.on('POST', /:streamGenerateContent$/, { frames: sseFrames([first, error]) });
    const stream = await gw.openai().chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let content = '';
    const err = await (async () => {
      for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
    })().catch((e: unknown) => e);
    assert.ok(err instanceof APIError);
    assert.match(err.message, /overloaded/);
    assert.equal(content, JSON.parse(first).candidates[0].content.parts[0].text);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'stream_error');
  });
});
