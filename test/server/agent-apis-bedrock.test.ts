/**
 * The agent APIs (Responses, Messages) bridged to Bedrock's Converse: the official SDKs against the
 * sidecar, the fake upstream replaying Bedrock recordings (event-stream framed, SigV4-checked).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, type TestGateway } from '../support/gateway.ts';
import { expectedCredits } from '../support/expect.ts';
import { startBedrockGateway } from '../providers/bedrock/bedrock-gateway.ts';
import { eventStreamReply, expectedFromEvents, recordedFrames, signed } from '../providers/bedrock/bedrock-upstream.ts';

const HAIKU = { model: 'bedrock/claude-haiku-4.5', path: '/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0' };
// Messages on Bedrock's Anthropic models is native (messages-bedrock-native.test.ts); Nova is bridged.
const NOVA = { model: 'bedrock/nova-2-lite', path: '/model/us.amazon.nova-2-lite-v1%3A0' };
const billedPrompt = (u: any) => u.inputTokens + (u.cacheReadInputTokens ?? 0) + (u.cacheWriteInputTokens ?? 0);

describe('Responses and Messages APIs bridged to Bedrock Converse', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startBedrockGateway({ upstream });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });
  const assertCharge = async (prompt: number, completion: number, served = HAIKU) => {
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.provider, 'bedrock');
    assert.equal(record.prompt_tokens, prompt);
    assert.equal(record.completion_tokens, completion);
    assert.ok(Math.abs(Number(record.credits) - expectedCredits(gw.catalog().resolve(served.model).model, prompt, completion)) < 1e-9);
  };

  test('responses.stream: text reassembled from converse-stream, usage and credits from its metadata event', async () => {
    upstream.reset();
    const path = 'bedrock/amazon-bedrock-text.chunks.txt';
    upstream.on('POST', `${HAIKU.path}/converse-stream`, signed(eventStreamReply(recordedFrames(path))));
    const expected = expectedFromEvents(path);
    const final = await gw.openai().responses.stream({ model: HAIKU.model, input: 'Hello', max_output_tokens: 128 }).finalResponse();
    assert.equal(final.output_text, expected.text);
    assert.equal(final.usage?.input_tokens, billedPrompt(expected.usage));
    assert.equal(final.usage?.output_tokens, expected.usage.outputTokens);
    assert.equal(upstream.last().json().inferenceConfig?.maxTokens, 128);
    await assertCharge(billedPrompt(expected.usage), expected.usage.outputTokens);
  });

  test('messages.create: the Converse answer as a Message', async () => {
    upstream.reset();
    const recorded = fixtureJson('bedrock/amazon-bedrock-text.json');
    upstream.on('POST', `${NOVA.path}/converse`, signed({ json: recorded }));
    const sdk = new Anthropic({ baseURL: gw.url, apiKey: CALLER_KEYS.member, maxRetries: 0 });
    const message = await sdk.messages.create({ model: NOVA.model, max_tokens: 128, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello' }] });
    const text = recorded.output.message.content.filter((b: any) => typeof b.text === 'string').map((b: any) => b.text).join('');
    assert.equal(message.content.filter((b) => b.type === 'text').map((b) => (b as any).text).join(''), text);
    assert.equal(message.usage.output_tokens, recorded.usage.outputTokens);
    assert.deepEqual(upstream.last().json().system, [{ text: 'Be brief.' }]);
    await assertCharge(billedPrompt(recorded.usage), recorded.usage.outputTokens, NOVA);
  });
});
