/**
 * One money rule for the unified API and passthrough (DESIGN.md, "Money rules"): the caller pays
 * for what the provider processed: reported usage, else an estimate from what was sent and
 * delivered (`estimated`), plus the run credit whenever tokens were processed; a failure before
 * any token costs nothing. Checked for client aborts after tokens flowed and for 200 streams that
 * end in an error event (Groq's `event: error`, OpenRouter's error chunk carrying usage,
 * Anthropic's `event: error`), built from recorded provider streams, both ways in.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { UsageRecord } from '../../src/metering/record.ts';
import { expectedCredits } from '../support/expect.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { chunkLines, sseFrames } from '../support/fixtures.ts';
import { CALLER_KEYS, startTestGateway, type TestGateway } from '../support/gateway.ts';

const GROQ_MODEL = 'groq/gpt-oss-120b';
const messages = [{ role: 'user' as const, content: 'Say hello in a few words, please.' }];
const groqError = `event: error\ndata: ${JSON.stringify({ error: { message: 'Service Unavailable', type: 'internal_server_error' } })}\n\n`;
const anthropicError = `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`;

describe('the money rule, unified and passthrough alike', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  /** The stream the scripted upstream sends next, in one write; `hold` keeps it open afterwards. */
  let script: { frames: string[]; hold: boolean } = { frames: [], hold: false };
  let scripted: Server;

  before(async () => {
    upstream = await FakeUpstream.start();
    scripted = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(script.frames.join(''));
        if (!script.hold) res.end();
      });
    });
    scripted.listen(0, '127.0.0.1');
    await once(scripted, 'listening');
    const url = `http://127.0.0.1:${(scripted.address() as AddressInfo).port}`;
    gw = await startTestGateway({
      upstream,
      credentials: { groq: { base_url: `${url}/openai/v1` }, openrouter: { base_url: `${url}/api/v1` }, anthropic: { base_url: `${url}/v1` } },
    });
  });
  after(async () => {
    await gw?.close();
    await upstream.close();
    scripted.closeAllConnections();
    scripted.close();
  });

  /** The charge entry of one request, once it is in the ledger (waited for, not slept on). */
  async function chargeOf(requestId: string): Promise<UsageRecord> {
    for (;;) {
      const record = (await gw.usage()).find((r) => r.request_id === requestId);
      if (record) return record;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  function model(id: string) {
    return gw.catalog().models.get(id)!;
  }

  function assertRule(record: UsageRecord, modelId: string) {
    assert.equal(record.usage_source, 'estimated');
    assert.ok(record.completion_tokens > 0, 'tokens were delivered');
    assert.equal(Number(record.credits).toFixed(9), expectedCredits(model(modelId), record.prompt_tokens, record.completion_tokens).toFixed(9));
  }

  async function unifiedStream(modelId: string, abortAfterFirstText: boolean): Promise<{ requestId: string; text: string; failed: boolean }> {
    const { data: stream, response } = await gw.openai().chat.completions.create({ model: modelId, messages, stream: true }).withResponse();
    let text = '';
    let failed = false;
    try {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        if (abortAfterFirstText && text.length > 0) {
          stream.controller.abort();
          break;
        }
      }
    } catch {
      failed = true;
    }
    return { requestId: response.headers.get('x-request-id')!, text, failed };
  }

  /** The same request body the openai SDK sends, straight to the provider's passthrough. */
  async function nativeStream(path: string, body: Record<string, unknown>, abortAfterFirstBytes: boolean): Promise<string> {
    const controller = new AbortController();
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER_KEYS.member}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    const requestId = res.headers.get('x-request-id')!;
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { done } = await reader.read();
        if (done) break;
        if (abortAfterFirstBytes) {
          controller.abort();
          break;
        }
      }
    } catch {
      // a cut or aborted body
    }
    return requestId;
  }

  test('a client abort after tokens flowed: the run credit plus an estimate, the same both ways in', async () => {
    script = { frames: sseFrames(chunkLines('groq/groq-text.chunks.txt').slice(0, 6)), hold: true };
    const unified = await unifiedStream(GROQ_MODEL, true);
    assert.ok(unified.text.length > 0);
    const u = await chargeOf(unified.requestId);
    assert.equal(u.outcome, 'aborted');
    assertRule(u, GROQ_MODEL);

    const native = await chargeOf(await nativeStream('/groq/openai/v1/chat/completions', { model: 'openai/gpt-oss-120b', messages, stream: true }, true));
    assert.equal(native.outcome, 'aborted');
    assert.equal(native.usage_source, 'estimated');
    assert.ok(Number(native.credits) > 1);
  });

  test('Groq: an error event after tokens: charged the run credit plus an estimate, unified and passthrough equal', async () => {
    script = { frames: [...sseFrames(chunkLines('groq/groq-text.chunks.txt').slice(0, 5)), groqError], hold: false };
    const unified = await unifiedStream(GROQ_MODEL, false);
    assert.ok(unified.failed && unified.text.length > 0);
    const u = await chargeOf(unified.requestId);
    assert.equal(u.outcome, 'stream_error');
    assertRule(u, GROQ_MODEL);
    const n = await chargeOf(await nativeStream('/groq/openai/v1/chat/completions', { model: 'openai/gpt-oss-120b', messages, stream: true }, false));
    assert.equal(n.outcome, 'stream_error');
    assert.equal(n.completion_tokens, u.completion_tokens, 'the same delivered text, the same estimate');
    assert.equal(n.usage_source, 'estimated');
    assert.ok(Number(n.credits) > 1);
  });

  test('Groq: an error event before any token costs nothing, unified and passthrough', async () => {
    script = { frames: [...sseFrames(chunkLines('groq/groq-text.chunks.txt').slice(0, 1)), groqError], hold: false };
    const unified = await unifiedStream(GROQ_MODEL, false);
    assert.ok(unified.failed);
    const u = await chargeOf(unified.requestId);
    assert.equal(u.outcome, 'stream_error');
    assert.equal(u.credits, '0');
    assert.equal(u.usage_source, 'none');
    const n = await chargeOf(await nativeStream('/groq/openai/v1/chat/completions', { model: 'openai/gpt-oss-120b', messages, stream: true }, false));
    assert.equal(n.credits, '0');
  });

  test('OpenRouter: an error chunk that carries usage is charged that usage', async () => {
    const lines = chunkLines('openai/openai-text.chunks.txt').slice(0, 4);
    const errorChunk = {
      ...JSON.parse(lines[1]!),
      error: { code: 502, message: 'Provider returned error' },
      choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }],
      usage: { prompt_tokens: 17, completion_tokens: 9, total_tokens: 26 },
    };
    script = { frames: sseFrames([...lines, JSON.stringify(errorChunk)]), hold: false };
    const n = await chargeOf(await nativeStream('/openrouter/api/v1/chat/completions', { model: 'openai/gpt-6-luna', messages, stream: true }, false));
    assert.equal(n.outcome, 'stream_error');
    assert.equal(n.usage_source, 'reported');
    assert.equal(n.prompt_tokens, 17);
    assert.equal(n.completion_tokens, 9);
  });

  test('Anthropic: an event: error after text: the reported input plus the delivered output, unified and passthrough equal', async () => {
    const lines = chunkLines('anthropic/anthropic-text.chunks.txt').slice(0, 4);
    script = { frames: [...sseFrames(lines, { eventFromType: true }), anthropicError], hold: false };
    const unified = await unifiedStream('claude-sonnet-4.6', false);
    assert.ok(unified.failed && unified.text.length > 0);
    const u = await chargeOf(unified.requestId);
    assert.equal(u.outcome, 'stream_error');
    // message_start reported the input; the output count came only with message_delta, never sent.
    assert.equal(u.usage_source, 'estimated');
    assert.equal(u.prompt_tokens, 12, 'the input message_start reported');
    assert.ok(u.completion_tokens >= 1);
    assert.equal(Number(u.credits).toFixed(9), expectedCredits(model('claude-sonnet-4.6'), u.prompt_tokens, u.completion_tokens).toFixed(9));

    const sdk = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: CALLER_KEYS.member, maxRetries: 0 });
    const { data: stream, response } = await sdk.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages, stream: true }).withResponse();
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, /Overloaded/);
    const n = await chargeOf(response.headers.get('x-request-id')!);
    assert.equal(n.outcome, 'stream_error');
    assert.equal(n.usage_source, 'estimated');
    assert.equal(n.credits, u.credits);
  });
});
