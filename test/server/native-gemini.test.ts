/**
 * Native passthrough for Gemini: the official @google/genai SDK, unmodified but for its base URL
 * and key, talks to /gemini on the real sidecar. The body goes through byte for byte, the caller's
 * key (header or ?key=) never reaches Gemini, and usage is read from the response on its way.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GoogleGenAI } from '@google/genai';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { chunkLines, fixtureJson, fixtureText, sseFrames } from '../support/fixtures.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../support/gateway.ts';

const MODEL = 'gemini-3.8-flash';
/** @google/genai 3.x calls the v1 API by default; REST users and older SDKs call v1beta. */
const SDK_PATH = `/v1/models/${MODEL}`;

/** Thinking tokens are output, outside candidatesTokenCount. */
function billed(meta: any) {
  return { prompt: meta.promptTokenCount, completion: meta.candidatesTokenCount + (meta.thoughtsTokenCount ?? 0) };
}

function textOf(response: any): string {
  return response.candidates[0].content.parts.map((p: any) => p.text ?? '').join('');
}

describe('native passthrough for Gemini with @google/genai', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const genai = () => new GoogleGenAI({ apiKey: CALLER_KEYS.member, httpOptions: { baseUrl: `${gw.url}/gemini` } });

  useGateway((u, g) => ((upstream = u), (gw = g)));

  test('generateContent works unchanged, with the managed key and the recording’s usage metered', async () => {
    upstream.reset();
    const recorded = fixtureJson('gemini/google-text.json');
    upstream.on('POST', `${SDK_PATH}:generateContent`, { json: recorded });

    const response = await genai().models.generateContent({ model: MODEL, contents: 'How many r in strawberry?' });
    assert.equal(response.text, textOf(recorded));

    const seen = upstream.last();
    assert.equal(seen.path, `${SDK_PATH}:generateContent`, 'the SDK’s own path, forwarded unchanged');
    assert.equal(seen.headers['x-goog-api-key'], providerKey('gemini'));
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member) && !seen.url.includes(CALLER_KEYS.member), 'the caller key is not forwarded');
    assert.deepEqual(seen.json().contents, [{ role: 'user', parts: [{ text: 'How many r in strawberry?' }] }]);

    const record = (await gw.usage()).at(-1)!;
    const usage = billed(recorded.usageMetadata);
    assert.equal(record.api, 'native');
    assert.equal(record.provider, 'gemini');
    assert.equal(record.model, MODEL);
    assert.equal(record.stream, false);
    assert.equal(record.prompt_tokens, usage.prompt);
    assert.equal(record.completion_tokens, usage.completion);
    assert.equal(record.reasoning_tokens, recorded.usageMetadata.thoughtsTokenCount);
    assert.equal(record.usage_source, 'reported');
  });

  test('generateContentStream works unchanged; alt=sse is kept and the last usageMetadata is metered', async () => {
    upstream.reset();
    const lines = chunkLines('gemini/google-reasoning.chunks.txt');
    upstream.on('POST', `${SDK_PATH}:streamGenerateContent`, { frames: sseFrames(lines) });

    let text = '';
    for await (const chunk of await genai().models.generateContentStream({ model: MODEL, contents: 'Hi' })) text += chunk.text ?? '';
    assert.equal(text, lines.map((l) => textOf(JSON.parse(l))).join(''));

    const seen = upstream.last();
    assert.equal(new URL(seen.url, 'http://x').searchParams.get('alt'), 'sse');
    assert.equal(seen.headers['x-goog-api-key'], providerKey('gemini'));

    const record = (await gw.usage()).at(-1)!;
    const usage = billed(JSON.parse(lines.at(-1)!).usageMetadata);
    assert.equal(record.stream, true);
    assert.equal(record.outcome, 'ok');
    assert.equal(record.prompt_tokens, usage.prompt);
    assert.equal(record.completion_tokens, usage.completion);
  });

  test('bytes are unchanged, and a ?key= caller key is accepted but never forwarded', async () => {
    upstream.reset();
    const recorded = fixtureText('gemini/google-tool-call.json');
    upstream.on('POST', `/v1beta/models/${MODEL}:generateContent`, { body: recorded });
    const res = await fetch(`${gw.url}/gemini/v1beta/models/${MODEL}:generateContent?key=${CALLER_KEYS.member}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Weather?' }] }] }),
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), recorded, 'the recorded body reaches the caller byte for byte');
    const seen = upstream.last();
    assert.equal(seen.url, `/v1beta/models/${MODEL}:generateContent`, 'no key= in the forwarded query');
    assert.equal(seen.headers['x-goog-api-key'], providerKey('gemini'));
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.completion_tokens, billed(JSON.parse(recorded).usageMetadata).completion);
  });

  test('the stream reaches the caller byte for byte, and a cut one is metered as truncated', async () => {
    upstream.reset();
    const frames = sseFrames(chunkLines('gemini/google-text.chunks.txt'));
    upstream.on('POST', `/v1beta/models/${MODEL}:streamGenerateContent`, { frames });
    const res = await fetch(`${gw.url}/gemini/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'x-goog-api-key': CALLER_KEYS.member, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] }),
    });
    assert.equal(await res.text(), frames.join(''));

    upstream.reset();
    upstream.on('POST', `/v1beta/models/${MODEL}:streamGenerateContent`, { frames: frames.slice(0, -1) });
    await (await fetch(`${gw.url}/gemini/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'x-goog-api-key': CALLER_KEYS.member, 'content-type': 'application/json' },
      body: '{"contents":[]}',
    })).text();
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'truncated', 'no finishReason arrived');
  });

  test('countTokens is forwarded but meters no tokens (it costs nothing)', async () => {
    upstream.reset();
    // Documented response shape; no countTokens recording exists.
    upstream.on('POST', `${SDK_PATH}:countTokens`, { json: { totalTokens: 7 } });
    const counted = await genai().models.countTokens({ model: MODEL, contents: 'How many tokens is this?' });
    assert.equal(counted.totalTokens, 7);
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.prompt_tokens, 0);
    assert.equal(record.completion_tokens, 0);
    assert.equal(record.usage_source, 'reported');
    assert.deepEqual([record.operation, record.credits], ['count_tokens', '0'], 'recorded as a token count, like the unified one');
  });

  test('paths outside the inference APIs are refused (cached contents, files, tuning)', async () => {
    for (const path of ['/v1beta/cachedContents', '/v1beta/files', '/v1beta/tunedModels', '/v1beta/models/../files']) {
      const res = await fetch(`${gw.url}/gemini${path}`, { headers: { 'x-goog-api-key': CALLER_KEYS.member } });
      assert.equal(res.status, 404, path);
    }
  });
});
