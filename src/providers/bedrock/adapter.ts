/**
 * The AWS Bedrock adapter: chat over Converse / ConverseStream, embeddings over InvokeModel (Titan,
 * Cohere), and the native passthrough's view of /model/{id}/… requests. Signing (SigV4) is not done
 * here: src/credentials/aws/sigv4.ts signs the final request after this adapter built it.
 */
import type { Operation } from '../../catalog/types.ts';
import { GatewayError } from '../../errors/catalog.ts';
import type { Target } from '../../routing/target.ts';
import { jsonBodyTap } from '../body-tap.ts';
import type { NativeRequestInfo, ProviderAdapter, UpstreamRequest } from '../contract.ts';
import { upstreamError } from '../upstream-error.ts';
import { converseRequest } from './converse-request.ts';
import { chatCompletion } from './converse-response.ts';
import { ConverseStream, converseStreamTap } from './converse-stream.ts';
import { embeddingFamily, embeddingRequest, embeddingResponse } from './embeddings.ts';
import { EVENT_STREAM_CONTENT_TYPE } from './event-stream.ts';
import { usageFromConverse, usageFromInvoke } from './usage.ts';

/** /model/{modelId}/{action}, the modelId percent-encoded as one path segment. */
const NATIVE_PATH = /^\/model\/([^/]+)\/([a-z-]+)$/;

/**
 * The model id as one path segment, encoded as the AWS SDK encodes it (`:` → `%3A`,
 * `/` of an ARN → `%2F`). SigV4 signs this path (encoded once more), so it must match what the
 * service reconstructs.
 */
export function modelPath(modelId: string, action: string): string {
  return `/model/${encodeURIComponent(modelId)}/${action}`;
}

/** What a Bedrock answer's translation needs from its request. */
interface BedrockContext {
  includeUsage: boolean;
  /** The caller's embeddings encoding_format. */
  encodingFormat: unknown;
}

export function createBedrockAdapter(target: Target): ProviderAdapter<BedrockContext> {
  return {
    request(operation, body): UpstreamRequest<BedrockContext> {
      if (operation === 'embeddings') {
        const family = embeddingFamily(target.upstreamModel);
        if (!family) throw notSupported(target, operation);
        const context = { includeUsage: false, encodingFormat: body.encoding_format };
        return post(modelPath(target.upstreamModel, 'invoke'), embeddingRequest(family, body), 'application/json', context);
      }
      if (operation !== 'chat') throw notSupported(target, operation);
      const stream = body.stream === true;
      const context = { includeUsage: (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true, encodingFormat: undefined };
      const converse = converseRequest(body, target.upstreamModel, target.model?.max_output_tokens ?? null);
      return stream
        ? post(modelPath(target.upstreamModel, 'converse-stream'), converse, EVENT_STREAM_CONTENT_TYPE, context)
        : post(modelPath(target.upstreamModel, 'converse'), converse, 'application/json', context);
    },

    response(operation, raw, context) {
      const body = parseObject(raw);
      if (operation === 'embeddings') return embeddingResponse(embeddingFamily(target.upstreamModel)!, body, target.upstreamModel, context.encodingFormat);
      return chatCompletion(body, target.upstreamModel);
    },

    stream: (_operation, context) => new ConverseStream({ emit: true, includeUsage: context.includeUsage, model: target.upstreamModel }),

    error: (status, headers, raw) => upstreamError(target, status, headers, raw),

    describeNative(path): NativeRequestInfo {
      const match = NATIVE_PATH.exec(path);
      const modelId = match ? safeDecode(match[1]!) : null;
      const action = match?.[2] ?? '';
      return {
        operation: action.startsWith('invoke') && modelId !== null && embeddingFamily(modelId) !== null ? 'embeddings' : 'chat',
        upstreamModel: modelId,
        stream: action.endsWith('-stream'),
      };
    },

    tap(_info, contentType) {
      if (contentType.includes(EVENT_STREAM_CONTENT_TYPE)) return converseStreamTap();
      return jsonBodyTap((body) => usageFromConverse(body.usage) ?? usageFromInvoke(body));
    },
  };
}

function post(path: string, body: Record<string, unknown>, accept: string, context: BedrockContext): UpstreamRequest<BedrockContext> {
  return { method: 'POST', path, headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body), context };
}

function parseObject(raw: Uint8Array): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw).toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new GatewayError('upstream_bad_response', 'AWS Bedrock returned a body that is not a JSON object.', { details: { provider: 'bedrock' } });
}

function notSupported(target: Target, operation: Operation): GatewayError {
  return new GatewayError('operation_not_supported', `The Bedrock model '${target.upstreamModel}' is not served for ${operation} by Tollbooth.`);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
