/**
 * Native Bedrock passthrough: the official @aws-sdk/client-bedrock-runtime, unchanged but for its
 * endpoint (the sidecar's /bedrock), an HTTP/1.1 handler and the Tollbooth key as its bearer token.
 * The sidecar strips the caller's auth, re-signs with the managed AWS credential (the fake upstream
 * verifies the SigV4 signature) and taps the binary event stream for usage without changing a byte.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { FakeUpstream } from '../support/fake-upstream.ts';
import { fixtureJson } from '../support/fixtures.ts';
import { CALLER_KEYS, type TestGateway } from '../support/gateway.ts';
import { startBedrockGateway } from '../providers/bedrock/bedrock-gateway.ts';
import { eventStreamReply, exceptionFrame, expectedFromEvents, recordedFrames, signed, TEST_AWS, verifySigV4 } from '../providers/bedrock/bedrock-upstream.ts';

const MODEL_ID = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const UPSTREAM_PATH = '/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0';

describe('native Bedrock passthrough with @aws-sdk/client-bedrock-runtime', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let client: BedrockRuntimeClient;

  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startBedrockGateway({ upstream });
    client = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: `${gw.url}/bedrock`,
      // The SDK's default handler speaks HTTP/2, which a plain-http endpoint cannot negotiate.
      requestHandler: new NodeHttpHandler(),
      token: { token: CALLER_KEYS.member },
      authSchemePreference: ['httpBearerAuth'],
      maxAttempts: 1,
    });
  });
  after(async () => {
    client.destroy();
    await gw.close();
    await upstream.close();
  });

  function assertReSigned(): void {
    const seen = upstream.last();
    assert.ok(!JSON.stringify(seen.headers).includes(CALLER_KEYS.member), 'the caller’s Tollbooth key never reaches Bedrock');
    assert.match(String(seen.headers.authorization), new RegExp(`^AWS4-HMAC-SHA256 Credential=${TEST_AWS.accessKeyId}/`));
  }

  test('ConverseCommand: the recorded answer and usage come back; the upstream saw a valid managed signature', async () => {
    upstream.reset();
    upstream.on('POST', `${UPSTREAM_PATH}/converse`, signed({ json: fixtureJson('bedrock/amazon-bedrock-text.json') }));
    const recording = fixtureJson('bedrock/amazon-bedrock-text.json');

    const response = await client.send(new ConverseCommand({ modelId: MODEL_ID, messages: [{ role: 'user', content: [{ text: 'How many r in strawberry?' }] }] }));
    assert.equal(response.output?.message?.content?.[0]?.text, recording.output.message.content[0].text);
    assert.equal(response.usage?.inputTokens, recording.usage.inputTokens);
    assert.equal(response.usage?.outputTokens, recording.usage.outputTokens);

    assert.deepEqual(await verifySigV4(upstream.last()), { ok: true });
    assertReSigned();
    assert.equal(upstream.last().path, `${UPSTREAM_PATH}/converse`, 'the path reaches Bedrock as the SDK encoded it');
    assert.deepEqual(upstream.last().json().messages, [{ role: 'user', content: [{ text: 'How many r in strawberry?' }] }]);

    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.api, 'native');
    assert.equal(record.model, 'bedrock/claude-haiku-4.5', 'the model is read from the path (%3A decoded)');
    assert.equal(record.stream, false);
    assert.equal(record.prompt_tokens, recording.usage.inputTokens + recording.usage.cacheReadInputTokens + recording.usage.cacheWriteInputTokens);
    assert.equal(record.completion_tokens, recording.usage.outputTokens);
    assert.equal(record.usage_source, 'reported');
  });

  test('ConverseStreamCommand: the SDK decodes the recorded events (CRCs intact) and usage is metered', async () => {
    upstream.reset();
    const chunks = 'bedrock/amazon-bedrock-reasoning.chunks.txt';
    upstream.on('POST', `${UPSTREAM_PATH}/converse-stream`, signed(eventStreamReply(recordedFrames(chunks))));
    const expected = expectedFromEvents(chunks);

    const response = await client.send(new ConverseStreamCommand({ modelId: MODEL_ID, messages: [{ role: 'user', content: [{ text: 'How many r in strawberry?' }] }] }));
    let text = '';
    let reasoning = '';
    let usage: { inputTokens?: number; outputTokens?: number } | undefined;
    for await (const event of response.stream!) {
      text += event.contentBlockDelta?.delta?.text ?? '';
      const r = event.contentBlockDelta?.delta?.reasoningContent;
      reasoning += r && 'text' in r ? (r.text ?? '') : '';
      usage = event.metadata?.usage ?? usage;
    }
    assert.equal(text, expected.text);
    assert.equal(reasoning, expected.reasoning);
    assert.equal(usage?.inputTokens, expected.usage.inputTokens);
    assert.equal(usage?.outputTokens, expected.usage.outputTokens);
    assert.deepEqual(await verifySigV4(upstream.last()), { ok: true });
    assertReSigned();

    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.stream, true);
    assert.equal(record.outcome, 'ok');
    assert.equal(record.prompt_tokens, expected.usage.inputTokens);
    assert.equal(record.completion_tokens, expected.usage.outputTokens);
    assert.equal(record.usage_source, 'reported');
  });

  test('the stream reaches the caller byte for byte; a caller’s own x-amz-* signing headers never reach Bedrock', async () => {
    upstream.reset();
    const frames = recordedFrames('bedrock/amazon-bedrock-text.chunks.txt');
    upstream.on('POST', `${UPSTREAM_PATH}/converse-stream`, signed(eventStreamReply(frames)));
    const res = await fetch(`${gw.url}/bedrock${UPSTREAM_PATH}/converse-stream`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${CALLER_KEYS.member}`,
        'content-type': 'application/json',
        'x-amz-date': '20200101T000000Z',
        'x-amz-security-token': 'caller-session-token',
        'x-amz-content-sha256': '0'.repeat(64),
      },
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.concat(frames));
    const seen = upstream.last();
    assert.deepEqual(await verifySigV4(seen), { ok: true });
    assert.equal(seen.headers['x-amz-security-token'], undefined);
    assert.notEqual(seen.headers['x-amz-date'], '20200101T000000Z');
  });

  test('an exception frame inside the passthrough stream reaches the SDK as its error; recorded as stream_error', async () => {
    upstream.reset();
    const frames = [...recordedFrames('bedrock/amazon-bedrock-text.chunks.txt').slice(0, 3), exceptionFrame('throttlingException', 'Too many tokens, please wait before trying again.')];
    upstream.on('POST', `${UPSTREAM_PATH}/converse-stream`, signed(eventStreamReply(frames)));
    const response = await client.send(new ConverseStreamCommand({ modelId: MODEL_ID, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
    await assert.rejects(
      (async () => {
        for await (const _ of response.stream!);
      })(),
      (err: Error) => err.name === 'ThrottlingException' && /Too many tokens/.test(err.message),
    );
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.outcome, 'stream_error');
    assert.equal(record.usage_source, 'estimated');
  });

  test('a caller signing with AWS credentials instead of its Tollbooth key is refused (401), nothing goes upstream', async () => {
    upstream.reset();
    const sigv4Caller = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: `${gw.url}/bedrock`,
      requestHandler: new NodeHttpHandler(),
      credentials: { accessKeyId: TEST_AWS.accessKeyId, secretAccessKey: TEST_AWS.secretAccessKey },
      maxAttempts: 1,
    });
    try {
      await assert.rejects(sigv4Caller.send(new ConverseCommand({ modelId: MODEL_ID, messages: [{ role: 'user', content: [{ text: 'Hi' }] }] })), (err: { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(err.$metadata?.httpStatusCode, 401);
        return true;
      });
    } finally {
      sigv4Caller.destroy();
    }
    assert.equal(upstream.requests.length, 0);
  });
});
