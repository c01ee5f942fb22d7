/**
 * The rest of the unified surface: legacy text completions (POST /v1/completions, the openai SDK's
 * completions.create, streamed and not), rerank (POST /v1/rerank, the Cohere/Jina request shape;
 * Cohere natively and Together) and text to speech (POST /v1/audio/speech, the SDK's
 * audio.speech.create), replaying recordings; each charge is checked against an independent
 * recomputation from the recorded usage and the catalog's prices (credits = 1 run credit +
 * Σ tokens × USD/1M / 1e6 × 1050 + Σ units × USD/unit × 1050).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CohereClientV2 } from 'cohere-ai';
import { chunkLines, fixtureJson, fixtureText, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../support/gateway.ts';
import { proves, provesBorrowed } from '../support/capabilities.ts';

const CREDITS_PER_USD = 1050; // MARGIN 1.05 × SCALE 1000

/** Models the tests declare: the catalog's OpenAI instruct model is retired, Together's rerankers are not listed. */
const MODELS = [
  {
    model_id: 'instruct-test', name: 'Instruct (test)', vendor: 'openai', provider: 'openai', upstream_model: 'gpt-3.5-turbo-instruct',
    operations: ['text_completion'], context_window: 4096, quality_score: 40, latency_score: 80, input_usd_per_1m: 1.5, output_usd_per_1m: 2, status: 'active',
  },
  {
    model_id: 'together-completions', name: 'Llama on Together (completions)', vendor: 'meta', provider: 'together', upstream_model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
    operations: ['chat', 'text_completion'], context_window: 131072, quality_score: 60, latency_score: 80, input_usd_per_1m: 0.88, output_usd_per_1m: 0.88, status: 'active',
  },
  {
    model_id: 'groq-completions', name: 'A Groq model claimed for completions', vendor: 'meta', provider: 'groq', upstream_model: 'llama-3.3-70b-versatile',
    operations: ['text_completion'], context_window: 131072, quality_score: 60, latency_score: 80, input_usd_per_1m: 0.59, output_usd_per_1m: 0.79, status: 'active',
  },
  {
    model_id: 'llama-rank', name: 'LlamaRank on Together', vendor: 'salesforce', provider: 'together', upstream_model: 'Salesforce/Llama-Rank-v1',
    operations: ['rerank'], context_window: 8192, quality_score: 70, latency_score: 80, input_usd_per_1m: 0.1, output_usd_per_1m: 0, status: 'active',
  },
];

function creditsOf(record: { credits: string }): number {
  return Number(record.credits);
}

function assertCredits(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `credits ${actual} ≠ ${expected}`);
}

describe('unified API: text completions, rerank, text to speech', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  useGateway((u, g) => ((upstream = u), (gw = g)), { config: { models: MODELS } });

  const lastRecord = async () => (await gw.usage()).at(-1)!;
  const post = (path: string, body: unknown) =>
    fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  describe('POST /v1/completions', () => {
    test('completions.create: the recorded completion, usage and a charge at the model’s token prices', async () => {
      proves('openai', 'text_completion');
      upstream.reset();
      const recorded = fixtureJson('openai/openai-completion-text.json');
      upstream.on('POST', '/v1/completions', { body: fixtureText('openai/openai-completion-text.json') });

      const completion = await gw.openai().completions.create({ model: 'instruct-test', prompt: 'Invent a new holiday and describe its traditions.', max_tokens: 16 });
      assert.equal(completion.choices[0]!.text, recorded.choices[0].text);
      assert.deepEqual(completion.usage, recorded.usage);
      const sent = upstream.last();
      assert.equal(sent.path, '/v1/completions');
      assert.equal(sent.headers.authorization, `Bearer ${providerKey('openai')}`);
      assert.deepEqual(sent.json(), { model: 'gpt-3.5-turbo-instruct', prompt: 'Invent a new holiday and describe its traditions.', max_tokens: 16 });

      const record = await lastRecord();
      assert.equal(record.operation, 'text_completion');
      assert.equal(record.model, 'instruct-test');
      assert.equal(record.prompt_tokens, recorded.usage.prompt_tokens);
      assert.equal(record.completion_tokens, recorded.usage.completion_tokens);
      assert.equal(record.usage_source, 'reported');
      assertCredits(creditsOf(record), 1 + ((recorded.usage.prompt_tokens * 1.5 + recorded.usage.completion_tokens * 2) / 1e6) * CREDITS_PER_USD);
    });

    test('completions.create with stream: the recorded text deltas; usage asked for upstream, hidden from a caller who did not ask', async () => {
      proves('openai', 'text_completion');
      upstream.reset();
      const lines = chunkLines('openai/openai-completion-text.chunks.txt');
      upstream.on('POST', '/v1/completions', { frames: sseFrames(lines, { done: true }) });
      const expectedText = lines.map((l) => JSON.parse(l)).flatMap((c) => c.choices.map((ch: { text: string }) => ch.text)).join('');
      const usage = JSON.parse(lines.at(-1)!).usage;

      const stream = await gw.openai().completions.create({ model: 'instruct-test', prompt: 'Invent a new holiday.', stream: true });
      let text = '';
      let sawUsage = false;
      for await (const chunk of stream) {
        text += chunk.choices.map((c) => c.text).join('');
        if (chunk.usage) sawUsage = true;
      }
      assert.equal(text, expectedText);
      assert.equal(sawUsage, false, 'the usage chunk Tollbooth asked for is not shown');
      assert.deepEqual(upstream.last().json().stream_options, { include_usage: true });

      const record = await lastRecord();
      assert.equal(record.operation, 'text_completion');
      assert.equal(record.stream, true);
      assert.equal(record.outcome, 'ok');
      assert.equal(record.prompt_tokens, usage.prompt_tokens);
      assert.equal(record.completion_tokens, usage.completion_tokens);
      assertCredits(creditsOf(record), 1 + ((usage.prompt_tokens * 1.5 + usage.completion_tokens * 2) / 1e6) * CREDITS_PER_USD);
    });

    test('a caller who asks for usage in the stream gets the recorded usage chunk', async () => {
      upstream.reset();
      const lines = chunkLines('openai/openai-completion-text.chunks.txt');
      upstream.on('POST', '/v1/completions', { frames: sseFrames(lines, { done: true }) });
      const stream = await gw.openai().completions.create({ model: 'instruct-test', prompt: 'x', stream: true, stream_options: { include_usage: true } });
      let usage: unknown = null;
      for await (const chunk of stream) usage ??= chunk.usage ?? null;
      assert.deepEqual(usage, JSON.parse(lines.at(-1)!).usage);
    });

    test('Together serves /completions (its documented paths list it): the OpenAI wire, borrowed recording', async () => {
      provesBorrowed('together', 'text_completion');
      upstream.reset();
      upstream.on('POST', '/v1/completions', { body: fixtureText('openai/openai-completion-text.json') });
      const completion = await gw.openai().completions.create({ model: 'together-completions', prompt: 'x' });
      assert.equal(completion.choices[0]!.text, fixtureJson('openai/openai-completion-text.json').choices[0].text);
      assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('together')}`);
      assert.equal(upstream.last().json().model, 'meta-llama/Llama-3.3-70B-Instruct-Turbo');
      assert.equal((await lastRecord()).provider, 'together');
    });

    test('a model that does not serve completions is a clear 400 naming models that do; nothing is sent upstream', async () => {
      upstream.reset();
      await assert.rejects(
        gw.openai().completions.create({ model: 'gpt-5-nano', prompt: 'x' }),
        (e: any) => e.status === 400 && e.code === 'operation_not_supported' && /does not support text completions/.test(e.message) && /instruct-test/.test(e.message),
      );
      // The catalog says so, but Groq's documented API has no /completions: the adapter refuses.
      await assert.rejects(
        gw.openai().completions.create({ model: 'groq-completions', prompt: 'x' }),
        (e: any) => e.status === 400 && e.code === 'operation_not_supported' && /Groq does not serve text completions/.test(e.message),
      );
      assert.equal(upstream.requests.length, 0);
    });

    test('the retired instruct model answers that it is retired', async () => {
      await assert.rejects(gw.openai().completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'x' }), (e: any) => e.code === 'model_retired');
    });

    test('a completion without a prompt is refused before admission', async () => {
      const res = await post('/v1/completions', { model: 'instruct-test' });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as any).error.param, 'prompt');
    });
  });

  describe('POST /v1/rerank', () => {
    const documents = ['Carson City is the capital city of the American state of Nevada.', 'Washington, D.C. is the capital of the United States.', 'Capital punishment has existed in the United States since before it was a country.'];

    test('Cohere natively: the recorded ranking, documents returned from the request, one search metered and charged', async () => {
      proves('cohere', 'rerank');
      upstream.reset();
      const recorded = fixtureJson('cohere/cohere-reranking.1.json');
      upstream.on('POST', '/v2/rerank', { body: fixtureText('cohere/cohere-reranking.1.json') });

      const res = await post('/v1/rerank', { model: 'rerank-v3.5', query: 'What is the capital of the United States?', documents, top_n: 2, return_documents: true });
      assert.equal(res.status, 200);
      const body = (await res.json()) as any;
      assert.deepEqual(
        body.results,
        recorded.results.map((r: { index: number; relevance_score: number }) => ({ ...r, document: { text: documents[r.index] } })),
      );
      assert.deepEqual(body.meta, recorded.meta, 'Cohere’s billing meta reaches the caller');
      const sent = upstream.last();
      assert.equal(sent.path, '/v2/rerank');
      assert.equal(sent.headers.authorization, `Bearer ${providerKey('cohere')}`);
      assert.deepEqual(sent.json(), { model: 'rerank-v3.5', query: 'What is the capital of the United States?', documents, top_n: 2 }, 'v2 takes no return_documents');

      const record = await lastRecord();
      assert.equal(record.operation, 'rerank');
      assert.equal(record.provider, 'cohere');
      assert.equal(record.prompt_tokens, 0);
      assert.equal(record.usage_source, 'reported');
      assert.equal(record.bill?.usage.search, recorded.meta.billed_units.search_units);
      const price = (gw.catalog().resolve('rerank-v3.5').model as { unit_prices?: Record<string, number> }).unit_prices!.search!;
      assert.equal(price, 0.002);
      assertCredits(creditsOf(record), 1 + recorded.meta.billed_units.search_units * price * CREDITS_PER_USD);
    });

    test('documents as {text} objects are sent as their text', async () => {
      upstream.reset();
      upstream.on('POST', '/v2/rerank', { body: fixtureText('cohere/cohere-reranking.1.json') });
      const res = await post('/v1/rerank', { model: 'rerank-v3.5', query: 'q', documents: [{ text: 'a' }, { text: 'b' }] });
      assert.equal(res.status, 200);
      assert.deepEqual(upstream.last().json().documents, ['a', 'b']);
      assert.equal(((await res.json()) as any).results[0].document, undefined, 'not asked back, not returned');
    });

    test('Together (Cohere-compatible): the recorded answer passes through, its prompt tokens metered', async () => {
      proves('together', 'rerank');
      upstream.reset();
      const recorded = fixtureJson('together/togetherai-reranking.1.json');
      upstream.on('POST', '/v1/rerank', { body: fixtureText('together/togetherai-reranking.1.json') });
      const res = await post('/v1/rerank', { model: 'llama-rank', query: 'q', documents, top_n: 2, return_documents: true });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), recorded);
      assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('together')}`);
      assert.equal(upstream.last().json().model, 'Salesforce/Llama-Rank-v1');
      const record = await lastRecord();
      assert.equal(record.operation, 'rerank');
      assert.equal(record.prompt_tokens, recorded.usage.prompt_tokens);
      assert.equal(record.completion_tokens, 0);
      assertCredits(creditsOf(record), 1 + ((recorded.usage.prompt_tokens * 0.1) / 1e6) * CREDITS_PER_USD);
    });

    test('a chat model cannot rerank; a rerank without documents is refused', async () => {
      const res = await post('/v1/rerank', { model: 'command-a-03-2025', query: 'q', documents: ['a'] });
      assert.equal(res.status, 400);
      const error = ((await res.json()) as any).error;
      assert.equal(error.code, 'operation_not_supported');
      assert.match(error.message, /rerank-v/);
      assert.equal((await post('/v1/rerank', { model: 'rerank-v3.5', query: 'q', documents: [] })).status, 400);
    });

    test('the cohere-ai SDK (CohereClientV2.rerank) through the Cohere passthrough: metered as rerank, one search', async () => {
      upstream.reset();
      const recorded = fixtureJson('cohere/cohere-reranking.1.json');
      upstream.on('POST', '/v2/rerank', { body: fixtureText('cohere/cohere-reranking.1.json') });
      const sdk = new CohereClientV2({ token: CALLER_KEYS.member, environment: `${gw.url}/cohere`, maxRetries: 0 });
      const response = await sdk.rerank({ model: 'rerank-v3.5', query: 'What is the capital of the United States?', documents, topN: 2 });
      assert.deepEqual(response.results.map((r) => [r.index, r.relevanceScore]), recorded.results.map((r: any) => [r.index, r.relevance_score]));
      assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('cohere')}`);
      const record = await lastRecord();
      assert.equal(record.api, 'native');
      assert.equal(record.operation, 'rerank');
      assert.equal(record.usage_source, 'reported');
      assert.equal(record.bill?.usage.search, 1);
      assertCredits(creditsOf(record), 1 + 1 * 0.002 * CREDITS_PER_USD);
    });
  });

  describe('POST /v1/audio/speech', () => {
    // The recorded exchange keeps the answer's head and length, not its audio bytes (SOURCES.md).
    const recording = fixtureJson('openai/gpt-4o-mini-tts-provider-options-response.json');
    const audio = Buffer.alloc(recording.response.bodyByteLength as number, 0x5a);
    const input = 'Hello. Ünïcödé 👋 counts as characters.';
    const characters = [...input].length;

    test('audio.speech.create: the audio passes through byte for byte; the input’s characters metered and charged', async () => {
      proves('openai', 'audio_speech');
      upstream.reset();
      upstream.on('POST', '/v1/audio/speech', {
        status: recording.response.status,
        headers: { 'content-type': recording.response['content-type'], 'content-length': String(audio.length) },
        body: audio,
      });

      const response = await gw.openai().audio.speech.create({ model: 'tts-1', voice: 'alloy', input, response_format: 'mp3' });
      assert.equal(response.headers.get('content-type'), 'audio/mpeg');
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), audio);
      const sent = upstream.last();
      assert.equal(sent.headers.authorization, `Bearer ${providerKey('openai')}`);
      assert.deepEqual(sent.json(), { model: 'tts-1', voice: 'alloy', input, response_format: 'mp3' });

      const record = await lastRecord();
      assert.equal(record.operation, 'audio_speech');
      assert.equal(record.outcome, 'ok');
      assert.equal(record.prompt_tokens, 0);
      assert.equal(record.usage_source, 'reported');
      assert.equal(record.bill?.usage.character, characters);
      const price = (gw.catalog().resolve('tts-1').model as { unit_prices?: Record<string, number> }).unit_prices!.character!;
      assert.equal(price, 0.000015);
      assertCredits(creditsOf(record), 1 + characters * price * CREDITS_PER_USD);
    });

    test('an answer streamed in parts reaches the caller whole (chunked, no length)', async () => {
      upstream.reset();
      const parts = [audio.subarray(0, 1000), audio.subarray(1000, 30_000), audio.subarray(30_000)];
      upstream.on('POST', '/v1/audio/speech', { headers: { 'content-type': 'audio/mpeg' }, frames: parts });
      const response = await gw.openai().audio.speech.create({ model: 'tts-1-hd', voice: 'alloy', input });
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), audio);
      const record = await lastRecord();
      assert.equal(record.bill?.usage.character, characters);
      assertCredits(creditsOf(record), 1 + characters * 0.00003 * CREDITS_PER_USD);
    });

    test('a cut upstream never looks like a whole file; the characters are still charged', async () => {
      upstream.reset();
      upstream.on('POST', '/v1/audio/speech', { headers: { 'content-type': 'audio/mpeg' }, frames: [audio.subarray(0, 5000)], cut: true });
      const response = await gw.openai().audio.speech.create({ model: 'tts-1', voice: 'alloy', input });
      await assert.rejects(response.arrayBuffer());
      const record = await lastRecord();
      assert.equal(record.operation, 'audio_speech');
      assert.equal(record.outcome, 'truncated');
      assert.equal(record.bill?.usage.character, characters);
    });

    test('a model that does not speak is a clear 400; an empty input is refused', async () => {
      await assert.rejects(
        gw.openai().audio.speech.create({ model: 'gpt-5-nano', voice: 'alloy', input: 'x' }),
        (e: any) => e.status === 400 && e.code === 'operation_not_supported' && /tts-1/.test(e.message),
      );
      assert.equal((await post('/v1/audio/speech', { model: 'tts-1', voice: 'alloy', input: '' })).status, 400);
    });

    test('the openai passthrough meters /audio/speech by characters too', async () => {
      upstream.reset();
      upstream.on('POST', '/v1/audio/speech', { headers: { 'content-type': 'audio/mpeg', 'content-length': String(audio.length) }, body: audio });
      const res = await fetch(`${gw.url}/openai/v1/audio/speech`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input }),
      });
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), audio);
      const record = await lastRecord();
      assert.equal(record.api, 'native');
      assert.equal(record.operation, 'audio_speech');
      assert.equal(record.bill?.usage.character, characters);
      assertCredits(creditsOf(record), 1 + characters * 0.000015 * CREDITS_PER_USD);
    });
  });
});
