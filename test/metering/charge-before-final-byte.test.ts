/**
 * DESIGN: a charge's final byte reaches the client only after the charge is in the ledger file.
 * With the longest commit window the config allows, every answer (unified and passthrough,
 * streamed and not) finds its charge already in the file the moment the client has the answer's
 * last byte, read straight from disk with no flush. The ledger writer's `written` promise settles
 * once the entry is in the file and before the sync that acknowledges it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { Ledger } from '../../src/metering/ledger/ledger.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { chunkLines, fixtureText, sseFrames } from '../support/fixtures.ts';
import { CALLER_KEYS, ledgerCharges, useGateway, type TestGateway } from '../support/gateway.ts';
import { usageRecord } from './ledger/records.ts';

const chat = { model: 'gpt-6-luna', messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('the answer ends only after its charge is in the ledger file', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  useGateway((u, g) => ((upstream = u), (gw = g)), { config: { ledger: { commit_window_ms: 100, sync_interval_ms: 1000 } } });

  /** Charges on disk now: no flush, no wait. */
  const onDisk = (requestId: string) => ledgerCharges(join(gw.dir, 'data')).filter((r) => r.request_id === requestId);

  test('unified, not streamed', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { body: fixtureText('openai/openai-text.json') });
    const { response } = await gw.openai().chat.completions.create(chat).withResponse();
    assert.equal(onDisk(response.headers.get('x-request-id')!).length, 1);
  });

  test('unified, streamed', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { frames: sseFrames(chunkLines('openai/openai-text.chunks.txt'), { done: true }) });
    const { data: stream, response } = await gw.openai().chat.completions.create({ ...chat, stream: true }).withResponse();
    for await (const _ of stream);
    assert.equal(onDisk(response.headers.get('x-request-id')!).length, 1);
  });

  test('passthrough, not streamed (content-length: the last body byte is held)', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/messages', { body: fixtureText('anthropic/anthropic-text.json') });
    const sdk = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: CALLER_KEYS.member, maxRetries: 0 });
    const { response } = await sdk.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] }).withResponse();
    assert.equal(onDisk(response.headers.get('x-request-id')!).length, 1);
  });

  test('passthrough, streamed (the end of the chunked body is held)', async () => {
    upstream.reset();
    upstream.on('POST', '/v1/chat/completions', { frames: sseFrames(chunkLines('openai/openai-text.chunks.txt'), { done: true }) });
    const res = await fetch(`${gw.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...chat, stream: true }),
    });
    await res.arrayBuffer();
    assert.equal(onDisk(res.headers.get('x-request-id')!).length, 1);
  });
});

describe('ledger writer: written before acknowledged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-written-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('`written` settles with the entry in the file, before the sync that acknowledges it', async () => {
    const ledger = await Ledger.open({ dir, commitWindowMs: 100, syncIntervalMs: 1000 });
    let acked = false;
    const appended = ledger.charge(usageRecord(1));
    void appended.acked.then(() => (acked = true));
    await appended.written;
    assert.deepEqual(ledgerCharges(dir).map((r) => r.request_id), ['req-1'], 'read straight from the file');
    assert.equal(acked, false, 'durability still follows with the group-commit sync');
    await ledger.close();
    assert.equal(acked, true);
  });
});
