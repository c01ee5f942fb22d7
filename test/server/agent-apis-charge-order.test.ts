/**
 * DESIGN: a charge's final byte reaches the client only after the charge is in the ledger file. On
 * the agent APIs the end of an answer is an event (message_stop, response.completed), where a
 * client may stop reading: with the longest commit window the config allows, the charge is on disk
 * the moment that event arrives, read straight from the file with no flush.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { chunkLines, sseFrames } from '../support/fixtures.ts';
import { CALLER_KEYS, ledgerCharges, useGateway, type TestGateway } from '../support/gateway.ts';
import { anthropicFrames } from '../providers/anthropic/recordings.ts';

describe('agent APIs: the final event arrives only after its charge is in the ledger file', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  useGateway((u, g) => ((upstream = u), (gw = g)), { config: { ledger: { commit_window_ms: 100, sync_interval_ms: 1000 } } });

  /** Reads the stream; when `marker` first shows, counts the request's charges on disk right then. */
  async function chargesWhenSeen(path: string, body: unknown, marker: string): Promise<number> {
    const res = await fetch(gw.url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    const id = res.headers.get('x-request-id')!;
    const decoder = new TextDecoder();
    let text = '';
    let counted: number | null = null;
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      if (counted === null && text.includes(marker)) {
        counted = ledgerCharges(join(gw.dir, 'data')).filter((r) => r.request_id === id).length;
      }
    }
    assert.notEqual(counted, null, `the stream carried ${marker}`);
    return counted!;
  }

  const openAIFrames = () => sseFrames(chunkLines('openai/openai-text.chunks.txt'), { done: true });

  test('Messages bridged to OpenAI: message_stop', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { frames: openAIFrames() });
    const n = await chargesWhenSeen('/v1/messages', { model: 'gpt-6-luna', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hi' }] }, 'message_stop');
    assert.equal(n, 1);
  });

  test('Messages native on Anthropic: message_stop', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/messages', { frames: anthropicFrames('anthropic/anthropic-text.chunks.txt') });
    const n = await chargesWhenSeen('/v1/messages', { model: 'claude-sonnet-4.6', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hi' }] }, 'message_stop');
    assert.equal(n, 1);
  });

  test('Responses bridged to OpenAI-compatible chat: response.completed', async () => {
    upstream.reset();
    // Mistral, whose usage rides on the last chunk unasked, is bridged (Groq, which serves Responses itself, is native).
    upstream.on('POST', '/v1/chat/completions', { frames: sseFrames(chunkLines('mistral/mistral-text.chunks.txt'), { done: true }) });
    const n = await chargesWhenSeen('/v1/responses', { model: 'mistral-small-latest', input: 'Hi', stream: true }, 'response.completed');
    assert.equal(n, 1);
  });

  test('Responses native on OpenAI: response.completed', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/responses', { frames: sseFrames(chunkLines('azure/azure-text.1.chunks.txt'), { eventFromType: true }) });
    const n = await chargesWhenSeen('/v1/responses', { model: 'gpt-6-luna', input: 'Hi', stream: true }, 'response.completed');
    assert.equal(n, 1);
  });
});
