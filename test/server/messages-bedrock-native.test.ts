/**
 * POST /v1/messages natively on Bedrock's Anthropic models: InvokeModel / InvokeModelWithResponseStream
 * with Anthropic's Messages body, through @anthropic-ai/sdk against the sidecar and a fake Bedrock
 * (SigV4-checked).
 *
 * Recordings:
 *   - stream: test/fixtures/bedrock-invoke/claude-3-sonnet-tool.invoke-stream.jsonl, a recorded
 *     InvokeModelWithResponseStream of Claude (tool use) from elastic/kibana's Bedrock adapter test
 *     (see test/fixtures/bedrock-invoke/SOURCES.md), re-framed as event-stream `chunk` messages;
 *   - non-stream: test/fixtures/providers/anthropic/anthropic-clear-thinking.1.json (a Message with a
 *     signed thinking block) as InvokeModel's body, which is Anthropic's own Message.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, type TestGateway } from '../support/gateway.ts';
import { expectedCredits } from '../support/expect.ts';
import { startBedrockGateway } from '../providers/bedrock/bedrock-gateway.ts';
import { eventFrame, eventStreamReply, signed } from '../providers/bedrock/bedrock-upstream.ts';

const HAIKU = { model: 'bedrock/claude-haiku-4.5', path: '/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0' };
const STREAM = readFileSync(new URL('../fixtures/bedrock-invoke/claude-3-sonnet-tool.invoke-stream.jsonl', import.meta.url), 'utf8').trim().split('\n');
const chunkFrames = () => STREAM.map((line, i) => eventFrame('chunk', { bytes: Buffer.from(line).toString('base64') }, i));

/** A previous assistant turn as Claude sent it: signed thinking, redacted thinking, a tool call. */
const SIGNED_TURN = [
  { type: 'thinking', thinking: 'The user wants order XFGHJ5678; call getOrderById.', signature: 'EqQBCkgIBxABGAIiQL8cY3+signature/kept+byte+for+byte==' },
  { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj' },
  { type: 'tool_use', id: 'toolu_bdrk_018QcdZZxZqKuheNsHQpbUjG', name: 'getOrderById', input: { orderId: 'XFGHJ5678' } },
];

describe('Messages API natively on Bedrock (InvokeModel with an Anthropic body)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let sdk: Anthropic;
  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startBedrockGateway({ upstream });
    sdk = new Anthropic({ baseURL: gw.url, apiKey: CALLER_KEYS.member, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  const lastCharge = async () => (await gw.usage()).at(-1)!;
  const model = () => gw.catalog().resolve(HAIKU.model).model;

  test('messages.stream: the recorded tool call relayed as Anthropic events, Claude’s usage charged', async () => {
    upstream.reset();
    upstream.on('POST', `${HAIKU.path}/invoke-with-response-stream`, signed(eventStreamReply(chunkFrames())));
    const stream = sdk.messages.stream(
      {
        model: HAIKU.model,
        max_tokens: 1024,
        top_k: 40,
        system: [{ type: 'text', text: 'You look up orders.', cache_control: { type: 'ephemeral' } }],
        tools: [{ name: 'getOrderById', description: 'Find an order', input_schema: { type: 'object', properties: { orderId: { type: 'string' } } } }],
        messages: [{ role: 'user', content: 'Where is order XFGHJ5678?' }],
      },
      { headers: { 'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14' } },
    );
    const events: string[] = [];
    stream.on('streamEvent', (e) => events.push(e.type));
    const message = await stream.finalMessage();
    assert.deepEqual(message.content, [{ type: 'tool_use', id: 'toolu_bdrk_018QcdZZxZqKuheNsHQpbUjG', name: 'getOrderById', input: { orderId: 'XFGHJ5678' } }]);
    assert.equal(message.stop_reason, 'tool_use');
    assert.deepEqual(events, STREAM.map((l) => JSON.parse(l).type));

    const sent = upstream.last().json();
    assert.equal(sent.anthropic_version, 'bedrock-2023-05-31');
    assert.equal(sent.model, undefined, 'the model is in the path');
    assert.equal(sent.stream, undefined, 'streaming is the path too');
    assert.equal(sent.top_k, 40);
    assert.deepEqual(sent.system[0].cache_control, { type: 'ephemeral' });
    assert.deepEqual(sent.anthropic_beta, ['fine-grained-tool-streaming-2025-05-14']);

    // Claude's own usage (365 in, 60 out), not the invocation metrics' 41.
    const charge = await lastCharge();
    assert.equal(charge.provider, 'bedrock');
    assert.equal(charge.prompt_tokens, 365);
    assert.equal(charge.completion_tokens, 60);
    assert.ok(Math.abs(Number(charge.credits) - expectedCredits(model(), 365, 60)) < 1e-9);
  });

  test('messages.create: a tool round trip with signed and redacted thinking reaches Bedrock byte for byte', async () => {
    upstream.reset();
    const recorded = fixtureJson('anthropic/anthropic-clear-thinking.1.json');
    upstream.on('POST', `${HAIKU.path}/invoke`, signed({ json: recorded }));
    const message = await sdk.messages.create({
      model: HAIKU.model,
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [
        { role: 'user', content: 'Where is order XFGHJ5678?' },
        { role: 'assistant', content: SIGNED_TURN as any },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_bdrk_018QcdZZxZqKuheNsHQpbUjG', content: 'Shipped on Monday.', cache_control: { type: 'ephemeral' } }] },
      ],
    });
    const thinking = message.content.find((b) => b.type === 'thinking') as any;
    assert.equal(thinking.signature, recorded.content[0].signature, 'the answer’s signature comes back intact');

    const sent = upstream.last().json();
    assert.equal(upstream.last().headers['content-type'], 'application/json');
    assert.deepEqual(sent.messages[1].content, SIGNED_TURN, 'signed and redacted thinking forwarded unchanged');
    assert.deepEqual(sent.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.deepEqual(sent.messages[2].content[0].cache_control, { type: 'ephemeral' });
    assert.equal(sent.anthropic_version, 'bedrock-2023-05-31');
    assert.equal(sent.model, undefined);

    const charge = await lastCharge();
    assert.equal(charge.prompt_tokens, recorded.usage.input_tokens);
    assert.equal(charge.completion_tokens, recorded.usage.output_tokens);
    assert.ok(Math.abs(Number(charge.credits) - expectedCredits(model(), recorded.usage.input_tokens, recorded.usage.output_tokens)) < 1e-9);
  });
});
