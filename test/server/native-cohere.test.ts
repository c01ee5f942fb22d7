/**
 * Native Cohere passthrough: the official cohere-ai SDK (CohereClientV2), unmodified but for its
 * environment (<sidecar>/cohere) and a Tollbooth token, gets Cohere's bytes unchanged; Tollbooth
 * swaps in the managed bearer key and meters billed_units from the response on the way.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CohereClientV2 } from 'cohere-ai';
import { fixtureJson, fixtureText } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { CALLER_KEYS, providerKey, type TestGateway, useGateway } from '../support/gateway.ts';
import { cohereFrames, fromChat, fromEvents } from '../providers/cohere/recordings.ts';

describe('native passthrough for Cohere (cohere-ai CohereClientV2)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const sdk = () => new CohereClientV2({ token: CALLER_KEYS.member, environment: `${gw.url}/cohere`, maxRetries: 0 });

  useGateway((u, g) => ((upstream = u), (gw = g)));

  function assertManagedKeyOnly(path: string) {
    const seen = upstream.last();
    assert.equal(seen.path, path);
    assert.equal(seen.headers.authorization, `Bearer ${providerKey('cohere')}`);
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller key never reaches the upstream');
  }

  async function lastRecord() {
    return (await gw.usage()).at(-1)!;
  }

  test('chat: the recorded answer, the managed key upstream, billed_units metered', async () => {
    upstream.reset();
    upstream.on('POST', '/v2/chat', { body: fixtureText('cohere/cohere-text.json') });
    const expected = fromChat('cohere/cohere-text.json');

    const response = await sdk().chat({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Capital of France?' }] });
    const content = response.message.content ?? [];
    assert.equal(content.map((c) => (c.type === 'text' ? c.text : '')).join(''), expected.text);
    assert.equal(response.finishReason, expected.finishReason);
    assert.equal(response.usage?.billedUnits?.inputTokens, expected.prompt);
    assertManagedKeyOnly('/v2/chat');
    assert.deepEqual(upstream.last().json(), { model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Capital of France?' }], stream: false });

    const record = await lastRecord();
    assert.equal(record.api, 'native');
    assert.equal(record.model, 'command-a-03-2025');
    assert.equal(record.prompt_tokens, expected.prompt, 'billed_units, not tokens');
    assert.equal(record.completion_tokens, expected.completion);
    assert.equal(record.usage_source, 'reported');
  });

  test('a raw chat response is byte-identical to Cohere’s', async () => {
    upstream.reset();
    const recorded = fixtureText('cohere/cohere-tool-call.json');
    upstream.on('POST', '/v2/chat', { body: recorded });
    const sent = JSON.stringify({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'SF?' }] });
    const res = await fetch(`${gw.url}/cohere/v2/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: sent,
    });
    assert.equal(await res.text(), recorded);
    assert.equal(upstream.last().body.toString('utf8'), sent);
    assertManagedKeyOnly('/v2/chat');
    const expected = fromChat('cohere/cohere-tool-call.json');
    const record = await lastRecord();
    assert.equal(record.prompt_tokens, expected.prompt);
    assert.equal(record.completion_tokens, expected.completion);
  });

  test('chatStream: the SDK reassembles the recorded stream; the bytes are unchanged; usage from message-end', async () => {
    upstream.reset();
    const frames = cohereFrames('cohere/cohere-reasoning.chunks.txt');
    upstream.on('POST', '/v2/chat', { frames });
    const expected = fromEvents('cohere/cohere-reasoning.chunks.txt');

    const stream = await sdk().chatStream({ model: 'command-a-reasoning-08-2025', messages: [{ role: 'user', content: '2 + 2?' }] });
    let text = '';
    let thinking = '';
    let finish: string | undefined;
    for await (const event of stream) {
      if (event.type === 'content-delta') {
        text += event.delta?.message?.content?.text ?? '';
        thinking += event.delta?.message?.content?.thinking ?? '';
      }
      if (event.type === 'message-end') finish = event.delta?.finishReason;
    }
    assert.equal(text, expected.text);
    assert.equal(thinking, expected.thinking);
    assert.equal(finish, expected.finishReason);
    assertManagedKeyOnly('/v2/chat');
    assert.equal(upstream.last().json().stream, true);

    const record = await lastRecord();
    assert.equal(record.stream, true);
    assert.equal(record.outcome, 'ok');
    assert.equal(record.model, 'command-a-reasoning-08-2025');
    assert.equal(record.prompt_tokens, expected.prompt);
    assert.equal(record.completion_tokens, expected.completion);

    upstream.reset();
    upstream.on('POST', '/v2/chat', { frames });
    const raw = await fetch(`${gw.url}/cohere/v2/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'command-a-reasoning-08-2025', messages: [{ role: 'user', content: '2 + 2?' }], stream: true }),
    });
    assert.equal(await raw.text(), frames.join(''));
  });

  test('embed: the recorded vectors, billed input tokens metered as an embedding call', async () => {
    upstream.reset();
    const recorded = fixtureJson('cohere/cohere-embedding.json');
    upstream.on('POST', '/v2/embed', { body: fixtureText('cohere/cohere-embedding.json') });
    const response = await sdk().embed({ model: 'embed-v4.0', texts: recorded.texts, inputType: 'search_document', embeddingTypes: ['float'] });
    assert.deepEqual(response.embeddings.float, recorded.embeddings.float);
    assertManagedKeyOnly('/v2/embed');

    const record = await lastRecord();
    assert.equal(record.operation, 'embeddings');
    assert.equal(record.model, 'embed-v4.0');
    assert.equal(record.prompt_tokens, recorded.meta.billed_units.input_tokens);
    assert.equal(record.completion_tokens, 0);
  });

  test('a stream cut before message-end is recorded as truncated', async () => {
    upstream.reset();
    upstream.on('POST', '/v2/chat', { frames: cohereFrames('cohere/cohere-text.chunks.txt').slice(0, -1), cut: true });
    const stream = await sdk().chatStream({ model: 'command-a-03-2025', messages: [{ role: 'user', content: 'x' }] });
    await assert.rejects(async () => {
      for await (const _ of stream);
    });
    const record = await lastRecord();
    assert.equal(record.outcome, 'truncated');
    assert.equal(record.usage_source, 'estimated');
  });
});
