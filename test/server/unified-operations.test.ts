/**
 * The rest of the unified API through the openai SDK: embeddings, image generations, audio
 * transcriptions (multipart relayed without being held in memory), the model list, deprecation
 * routing headers, and auth `none` mode.
 */
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { toFile } from 'openai';
import { activeCopy } from '../support/catalog.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, startTestGateway, type TestGateway, useGateway } from '../support/gateway.ts';
import { proves } from '../support/capabilities.ts';

/** Parses a multipart body the way a provider would, to check what the upstream received. */
async function formOf(seen: { headers: Record<string, unknown>; body: Buffer }): Promise<FormData> {
  return new Response(seen.body, { headers: { 'content-type': String(seen.headers['content-type']) } }).formData();
}

describe('unified API: embeddings, images, audio, models, deprecations', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  useGateway((u, g) => ((upstream = u), (gw = g)), { config: { models: [activeCopy('dall-e-3', 'dall-e-3-live')] } });

  test('embeddings: the recording comes back, prompt tokens are metered, completion forced to 0', async () => {
    proves('openai', 'embeddings');
    upstream.reset();
    const recorded = fixtureJson('openai/openai-embedding.json');
    upstream.on('POST', '/v1/embeddings', { json: recorded });
    const result = await gw.openai().embeddings.create({ model: 'text-embedding-3-small', input: ['sunny day at the beach', 'rainy day in the city'], encoding_format: 'float' });
    assert.deepEqual(result.data.map((d) => d.embedding), recorded.data.map((d: any) => d.embedding));
    assert.equal(upstream.last().json().model, gw.catalog().resolve('text-embedding-3-small').model.upstream_model);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.operation, 'embeddings');
    assert.equal(record.prompt_tokens, recorded.usage.prompt_tokens);
    assert.equal(record.completion_tokens, 0);
    const model = gw.catalog().resolve('text-embedding-3-small').model;
    assert.ok(Math.abs(Number(record.credits) - (1 + (recorded.usage.prompt_tokens * model.input_usd_per_1m!) / 1e6 * 1050)) < 1e-9);
  });

  test('a chat model cannot embed, an embedding model cannot chat', async () => {
    await assert.rejects(gw.openai().embeddings.create({ model: 'gpt-5-nano', input: 'x' }), (e: any) => e.status === 400 && e.code === 'operation_not_supported');
    await assert.rejects(
      gw.openai().chat.completions.create({ model: 'text-embedding-3-small', messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e.status === 400 && e.code === 'operation_not_supported',
    );
  });

  test('image generation returns the recorded images', async () => {
    proves('openai', 'images');
    upstream.reset();
    const recorded = fixtureJson('openai/openai-image.json');
    upstream.on('POST', '/v1/images/generations', { json: recorded });
    const result = await gw.openai().images.generate({ model: 'gpt-image-1', prompt: 'A baby sea otter', n: 2 });
    assert.deepEqual(result.data?.map((d) => d.b64_json), recorded.data.map((d: any) => d.b64_json));
    const served = gw.catalog().resolve('gpt-image-1').model;
    assert.equal(upstream.last().json().model, served.upstream_model);
    assert.equal(upstream.last().json().prompt, 'A baby sea otter');
  });

  test('DALL·E images are priced by the size and quality the request asked for (the answer does not say)', async () => {
    // dall-e-3 is retired in the catalog (it routes to its replacement): an active copy is configured.
    upstream.reset();
    const recorded = fixtureJson('openai/openai-image.json');
    assert.equal(recorded.size ?? recorded.quality, undefined, 'the recorded answer names no size or quality');
    upstream.on('POST', '/v1/images/generations', { json: recorded });
    const charged = async (requestId: string, params: Record<string, unknown>) => {
      const sdk = gw.openai(undefined, { defaultHeaders: { 'x-request-id': requestId } });
      await sdk.images.generate({ model: 'dall-e-3-live', prompt: 'A baby sea otter', n: 2, ...params });
      const charge = (await gw.usage()).find((c) => c.request_id === requestId);
      assert.ok(charge, 'the request was charged');
      return charge;
    };

    const hd = await charged('dall-e-hd', { size: '1024x1792', quality: 'hd' });
    const sent = upstream.last().json();
    assert.deepEqual([sent.model, sent.size, sent.quality, sent.n], ['dall-e-3', '1024x1792', 'hd', 2], 'the request goes upstream as asked');
    assert.equal(hd.operation, 'images');
    assert.deepEqual(hd.bill?.usage, { 'image:1024x1792:hd': 2 });
    near(hd.credits, 1 + 2 * 0.12 * 1050);

    // What the request leaves out is DALL·E 3's default (1024x1024, standard), priced by the catalog.
    const sized = await charged('dall-e-sized', { size: '1792x1024' });
    assert.deepEqual(sized.bill?.usage, { 'image:1792x1024': 2 });
    near(sized.credits, 1 + 2 * 0.08 * 1050);
    const plain = await charged('dall-e-default', {});
    assert.deepEqual(plain.bill?.usage, { image: 2 });
    near(plain.credits, 1 + 2 * 0.04 * 1050);
  });

  test('audio transcription from the SDK (file part first): spooled, relayed, model rewritten, spool cleaned', async () => {
    proves('openai', 'audio');
    upstream.reset();
    const recorded = fixtureJson('openai/openai-transcription.json');
    upstream.on('POST', '/v1/audio/transcriptions', { json: recorded });
    const audio = Buffer.alloc(300_000);
    for (let i = 0; i < audio.length; i++) audio[i] = (i * 7) % 251;
    const result = await gw.openai().audio.transcriptions.create({
      file: await toFile(audio, 'galileo.mp3', { type: 'audio/mpeg' }),
      model: 'whisper-1',
      response_format: 'verbose_json',
    });
    assert.equal(result.text, recorded.text);
    const form = await formOf(upstream.last());
    const file = form.get('file') as File;
    assert.equal(file.name, 'galileo.mp3');
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), audio, 'the upload reaches the upstream byte for byte');
    assert.equal(form.get('model'), gw.catalog().resolve('whisper-1').model.upstream_model);
    assert.equal(form.get('response_format'), 'verbose_json');
    assert.equal(upstream.last().headers.authorization, `Bearer ${providerKey('openai')}`);
    const spool = join(gw.dir, 'data', 'spool');
    assert.deepEqual(existsSync(spool) ? readdirSync(spool) : [], [], 'no upload is left on disk');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.operation, 'audio_transcription');
    assert.equal(record.status, 200);
  });

  test('audio transcription with the model field first streams straight through; text answers pass as text', async () => {
    proves('groq', 'audio');
    upstream.reset();
    const recorded = fixtureJson('groq/groq-transcription-text.json');
    upstream.on('POST', '/openai/v1/audio/transcriptions', { body: recorded.body, headers: recorded.headers });
    const form = new FormData();
    form.append('model', 'whisper-large-v3-turbo');
    form.append('response_format', 'text');
    form.append('file', new Blob([Buffer.from('RIFF....WAVEfmt ')], { type: 'audio/wav' }), 'hello.wav');
    const res = await fetch(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${CALLER_KEYS.member}` }, body: form });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), recorded.headers['content-type']);
    assert.equal(await res.text(), recorded.body);
    const sent = await formOf(upstream.last());
    assert.equal(sent.get('model'), gw.catalog().resolve('whisper-large-v3-turbo').model.upstream_model);
    assert.equal(await (sent.get('file') as File).text(), 'RIFF....WAVEfmt ');
  });

  test('audio transcription refuses a non-multipart body and an upload without a model', async () => {
    const json = await fetch(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(json.status, 415);
    const form = new FormData();
    form.append('file', new Blob(['x']), 'a.wav');
    const noModel = await fetch(`${gw.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${CALLER_KEYS.member}` }, body: form });
    assert.equal(noModel.status, 400);
    assert.equal(((await noModel.json()) as any).error.param, 'model');
  });

  test('GET /v1/models lists the catalog, without retired models, with its fields', async () => {
    const page = await gw.openai().models.list();
    const ids = page.data.map((m) => m.id);
    const catalog = gw.catalog();
    const expected = [...catalog.models.values()].filter((m) => m.status !== 'retired').map((m) => m.model_id);
    assert.deepEqual(ids.sort(), expected.sort());
    const one = await gw.openai().models.retrieve('text-embedding-3-small');
    assert.equal((one as any).embedding_dimension, catalog.models.get('text-embedding-3-small')!.embedding_dimension);
  });

  test('a deprecated model routes to its replacement and the answer says so (RFC 9745/8594 headers)', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
    const catalog = gw.catalog();
    const deprecated = [...catalog.models.values()].find((m) => m.provider === 'openai' && m.status === 'deprecated' && m.replacement_id && m.sunset_date && m.deprecation_date && m.operations.includes('chat'))!;
    assert.ok(deprecated, 'the catalog has a deprecated OpenAI chat model with dates');
    const { data, response } = await gw.openai().chat.completions.create({ model: deprecated.model_id, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    const served = catalog.resolve(deprecated.model_id).model;
    assert.notEqual(served.model_id, deprecated.model_id);
    assert.equal(response.headers.get('x-tollbooth-model'), served.model_id);
    assert.equal(response.headers.get('x-tollbooth-requested-model'), deprecated.model_id);
    assert.equal(response.headers.get('deprecation'), `@${Date.parse(deprecated.deprecation_date!) / 1000}`);
    assert.equal(response.headers.get('sunset'), new Date(deprecated.sunset_date!).toUTCString());
    assert.equal(upstream.last().json().model, served.upstream_model);
    assert.ok(data.choices[0]!.message.content);
    const counted = new RegExp(`tollbooth_deprecated_model_requests_total\\{requested_model="${deprecated.model_id.replace(/\./g, '\\.')}",served_model="${served.model_id.replace(/\./g, '\\.')}"\\} 1`);
    assert.match(await gw.metrics(), counted);
  });

  test('auth none: a trusted loopback sidecar serves without a key, under its default org', async () => {
    const open = await startTestGateway({ upstream, config: { auth: { mode: 'none', default_org: 'globex' } } });
    try {
      upstream.reset();
      upstream.on('POST', '/v1/chat/completions', { json: fixtureJson('openai/openai-text.json') });
      const res = await fetch(`${open.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      assert.equal(res.status, 200);
      assert.equal((await open.usage()).at(-1)!.org, 'globex');
    } finally {
      await open.close();
    }
  });
});

function near(credits: string, expected: number): void {
  assert.ok(Math.abs(Number(credits) - expected) < 1e-9, `${credits} ≈ ${expected}`);
}
