/** The Bedrock adapter's passthrough view of a request and its error mapping. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBedrockAdapter } from '../../../src/providers/bedrock/adapter.ts';
import type { Target } from '../../../src/routing/target.ts';
import { loadTestCatalog } from '../../support/catalog.ts';

const target = { provider: loadTestCatalog().provider('bedrock')!, model: null, upstreamModel: '', baseUrl: '', weight: 1, credential: { id: 'b', secret: null } } as unknown as Target;
const adapter = createBedrockAdapter(target);

describe('Bedrock adapter', () => {
  test('describeNative: the model from the path (%3A decoded), stream from a -stream action', () => {
    assert.deepEqual(adapter.describeNative('/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse', null), {
      operation: 'chat',
      upstreamModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
      stream: false,
    });
    assert.equal(adapter.describeNative('/model/us.anthropic.claude-sonnet-4-6/converse-stream', null).stream, true);
    assert.deepEqual(adapter.describeNative('/model/amazon.titan-embed-text-v2%3A0/invoke', null), {
      operation: 'embeddings',
      upstreamModel: 'amazon.titan-embed-text-v2:0',
      stream: false,
    });
    assert.equal(adapter.describeNative('/model/x/invoke-with-response-stream', null).stream, true);
    assert.equal(adapter.describeNative('/model', null).upstreamModel, null);
  });

  const cases = [
    { type: 'ThrottlingException', status: 429, code: 'upstream_rate_limited', retryable: true },
    { type: 'ModelNotReadyException', status: 429, code: 'upstream_rate_limited', retryable: true },
    { type: 'ServiceUnavailableException', status: 503, code: 'upstream_error', retryable: true },
    { type: 'InternalServerException', status: 500, code: 'upstream_error', retryable: true },
    { type: 'ValidationException', status: 400, code: 'upstream_invalid_request', retryable: false },
  ];
  for (const c of cases) {
    test(`${c.type} (x-amzn-ErrorType, HTTP ${c.status}) → ${c.code}, retryable ${c.retryable}`, () => {
      const err = adapter.error(c.status, { 'x-amzn-errortype': `${c.type}:http://internal.amazon.com/coral/com.amazon.bedrock/` }, Buffer.from('{"message":"m"}'));
      assert.equal(err.code, c.code);
      assert.equal(err.status, c.status);
      assert.equal(err.retryable, c.retryable);
      assert.equal(err.details.upstream_code, c.type);
      assert.equal(err.message, 'm');
    });
  }
});
