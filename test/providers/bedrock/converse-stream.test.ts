/** ConverseStream → OpenAI chunks, at the translator: corner cases the end-to-end tests do not reach. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConverseStream, converseStreamTap } from '../../../src/providers/bedrock/converse-stream.ts';
import { eventFrame, recordedFrames } from './bedrock-upstream.ts';

function chunks(sse: string): any[] {
  return sse
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice('data: '.length)));
}

describe('ConverseStream translator', () => {
  test('text and two tool calls interleaved: each tool block keeps its own index', () => {
    const stream = new ConverseStream({ emit: true, includeUsage: false, model: 'm' });
    let out = '';
    for (const frame of [
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Checking.' } }),
      eventFrame('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'a', name: 'first' } } }),
      eventFrame('contentBlockStart', { contentBlockIndex: 2, start: { toolUse: { toolUseId: 'b', name: 'second' } } }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '{"y":2}' } } }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"x":1}' } } }),
      eventFrame('messageStop', { stopReason: 'tool_use' }),
      eventFrame('metadata', { usage: { inputTokens: 3, outputTokens: 4, cacheReadInputTokens: 5, cacheWriteInputTokens: 6 } }),
    ]) {
      out += stream.push(frame);
    }
    out += stream.finish();
    const args: string[] = [];
    for (const c of chunks(out)) for (const t of c.choices[0]?.delta.tool_calls ?? []) args[t.index] = (args[t.index] ?? '') + t.function.arguments;
    assert.deepEqual(args, ['{"x":1}', '{"y":2}']);
    assert.ok(out.endsWith('data: [DONE]\n\n'));
    assert.equal(stream.outcome, 'complete');
    assert.deepEqual(stream.usage, { prompt_tokens: 14, completion_tokens: 4, cached_tokens: 5, reasoning_tokens: 0, cache_write_5m_tokens: 6, source: 'reported' });
  });

  test('a corrupt frame ends the stream with an explicit error event', () => {
    const stream = new ConverseStream({ emit: true, includeUsage: false, model: 'm' });
    const frames = recordedFrames('bedrock/amazon-bedrock-text.chunks.txt');
    const broken = Buffer.from(frames[2]!);
    broken[broken.length - 6]! ^= 0xff;
    const out = stream.push(Buffer.concat([frames[0]!, frames[1]!, broken, frames[3]!])) + stream.finish();
    assert.equal(stream.outcome, 'error');
    assert.match(out, /event: error\ndata: .*upstream_bad_response/);
    assert.equal(chunks(out).length, 2, 'nothing after the corrupt frame is trusted');
  });

  test('passthrough tap: messageStop without the metadata event is a truncated stream with no usage', () => {
    const tap = converseStreamTap();
    const frames = recordedFrames('bedrock/amazon-bedrock-text.chunks.txt');
    for (const frame of frames.slice(0, -1)) tap.push(frame);
    const result = tap.finish();
    assert.equal(result.outcome, 'truncated');
    assert.equal(result.usage, null);
    assert.ok(result.generatedChars > 0);
  });

  test('passthrough tap: InvokeModelWithResponseStream chunks carry usage in amazon-bedrock-invocationMetrics', () => {
    const tap = converseStreamTap();
    const last = { type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 12, outputTokenCount: 34 } };
    tap.push(eventFrame('chunk', { bytes: Buffer.from(JSON.stringify({ type: 'content_block_delta' })).toString('base64') }));
    tap.push(eventFrame('chunk', { bytes: Buffer.from(JSON.stringify(last)).toString('base64') }));
    const result = tap.finish();
    assert.equal(result.outcome, 'complete');
    assert.equal(result.usage?.prompt_tokens, 12);
    assert.equal(result.usage?.completion_tokens, 34);
  });
});
