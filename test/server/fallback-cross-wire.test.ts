/**
 * The seed's managed route for claude-sonnet-4.6 — OpenRouter (OpenAI wire), then Anthropic
 * (Messages), then Bedrock (Converse, SigV4) — with providers failing on command. The request is
 * translated anew for each provider, and whichever serves, the caller gets the same unified shape.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chunkLines, fixtureJson, fixtureText, sseFrames } from '../support/fixtures.ts';
import { FakeUpstream } from '../support/fake-upstream.ts';
import type { TestGateway } from '../support/gateway.ts';
import { startBedrockGateway } from '../providers/bedrock/bedrock-gateway.ts';
import { eventStreamReply, recordedFrames, signed } from '../providers/bedrock/bedrock-upstream.ts';

const MODEL = 'claude-sonnet-4.6';
const OPENROUTER = '/api/v1/chat/completions';
const ANTHROPIC = '/v1/messages';
const BEDROCK = /^\/model\/[^/]+\/converse(-stream)?$/;
const chat = { model: MODEL, messages: [{ role: 'user' as const, content: 'How many r in strawberry?' }] };

const down = { status: 503, json: { error: { message: 'upstream down', type: 'server_error' } } };
const overloaded = { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } };

/** The shape a unified caller relies on, whoever served. */
function shapeOf(c: any) {
  return {
    object: c.object,
    keys: Object.keys(c).filter((k) => ['id', 'object', 'created', 'model', 'choices', 'usage'].includes(k)).sort(),
    role: c.choices[0].message.role,
    finish_reason: c.choices[0].finish_reason,
    usage: Object.keys(c.usage).filter((k) => ['prompt_tokens', 'completion_tokens', 'total_tokens'].includes(k)).sort(),
  };
}

describe('fallback across wire formats: OpenAI-compatible → Anthropic → Bedrock', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await FakeUpstream.start();
    gw = await startBedrockGateway({
      upstream,
      config: {
        routes: {
          [MODEL]: {
            deployments: [
              { provider: 'openrouter', upstream_model: 'anthropic/claude-sonnet-4.6' },
              { provider: 'anthropic' },
              { provider: 'bedrock', upstream_model: 'us.anthropic.claude-sonnet-4-6' },
            ],
          },
        },
        // Each test fails providers on purpose: keep breakers from carrying over between tests.
        routing: { breaker: { min_requests: 1000 } },
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('OpenRouter and Anthropic down: Bedrock answers, translated into the same unified shape', async () => {
    upstream.reset();
    upstream.on('POST', OPENROUTER, down).on('POST', ANTHROPIC, overloaded).on('POST', BEDROCK, signed({ json: fixtureJson('bedrock/amazon-bedrock-text.json') }));
    const { data, response } = await gw.openai().chat.completions.create(chat).withResponse();
    assert.equal(response.headers.get('x-tollbooth-provider'), 'bedrock');
    assert.equal(response.headers.get('x-tollbooth-attempts'), '3');
    assert.equal(data.choices[0]!.message.content, fixtureJson('bedrock/amazon-bedrock-text.json').output.message.content[0].text);
    assert.deepEqual(
      upstream.requests.map((r) => r.path),
      [OPENROUTER, ANTHROPIC, '/model/us.anthropic.claude-sonnet-4-6/converse'],
      'each provider got its own wire format',
    );
    assert.equal(upstream.requests[0]!.json().model, 'anthropic/claude-sonnet-4.6');
    assert.equal(upstream.requests[1]!.json().model, 'claude-sonnet-4-6');
    assert.ok(Array.isArray(upstream.requests[2]!.json().messages[0].content), 'Converse content blocks');
    const record = (await gw.usage()).at(-1)!;
    assert.equal(record.provider, 'bedrock');
    assert.equal(record.attempts, 3);
    assert.equal(record.prompt_tokens, 22);
    assert.equal(record.completion_tokens, 57);
  });

  test('streaming: OpenRouter down, Anthropic streams the recording as unified chunks', async () => {
    upstream.reset();
    const lines = chunkLines('anthropic/anthropic-text.chunks.txt');
    upstream.on('POST', OPENROUTER, down).on('POST', ANTHROPIC, { frames: sseFrames(lines, { eventFromType: true }) });
    const stream = await gw.openai().chat.completions.create({ ...chat, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    const expected = lines.map((l) => JSON.parse(l)).filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text ?? '').join('');
    assert.equal(text, expected);
    assert.equal((await gw.usage()).at(-1)!.provider, 'anthropic');
  });

  test('streaming: Bedrock’s binary event stream becomes the same SSE chunks', async () => {
    upstream.reset();
    upstream.on('POST', OPENROUTER, down).on('POST', ANTHROPIC, overloaded).on('POST', BEDROCK, signed(eventStreamReply(recordedFrames('bedrock/amazon-bedrock-text.chunks.txt'))));
    const stream = await gw.openai().chat.completions.create({ ...chat, stream: true });
    let text = '';
    let finish: string | null | undefined = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    const expected = chunkLines('bedrock/amazon-bedrock-text.chunks.txt')
      .map((l) => JSON.parse(l).contentBlockDelta?.delta?.text ?? '')
      .join('');
    assert.equal(text, expected);
    assert.equal(finish, 'stop');
  });

  test('whoever serves, the answer has the same unified shape', async () => {
    const shapes = [];
    for (const serving of ['openrouter', 'anthropic', 'bedrock']) {
      upstream.reset();
      upstream
        .on('POST', OPENROUTER, serving === 'openrouter' ? { body: fixtureText('openai/openai-text.json') } : down)
        .on('POST', ANTHROPIC, serving === 'anthropic' ? { json: fixtureJson('anthropic/anthropic-text.json') } : overloaded)
        .on('POST', BEDROCK, signed({ json: fixtureJson('bedrock/amazon-bedrock-text.json') }));
      const { data, response } = await gw.openai().chat.completions.create(chat).withResponse();
      assert.equal(response.headers.get('x-tollbooth-provider'), serving);
      assert.ok(typeof data.choices[0]!.message.content === 'string' && data.choices[0]!.message.content.length > 0);
      shapes.push(shapeOf(data));
    }
    assert.deepEqual(shapes[1], shapes[0]);
    assert.deepEqual(shapes[2], shapes[0]);
  });
});
