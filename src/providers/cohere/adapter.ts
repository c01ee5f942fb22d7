/**
 * The Cohere v2 adapter: unified chat ↔ /v2/chat, unified embeddings ↔ /v2/embed and unified rerank
 * ↔ /v2/rerank (rerank.ts), and the native
 * passthrough (cohere-ai's CohereClientV2 pointed at /cohere) described and tapped for usage.
 * The bearer credential comes from the catalog, not from here.
 */
import type { Operation } from '../../catalog/types.ts';
import { GatewayError } from '../../errors/catalog.ts';
import { reported } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { jsonBodyTap } from '../body-tap.ts';
import type { NativeRequestInfo, ProviderAdapter } from '../contract.ts';
import { upstreamError } from '../upstream-error.ts';
import { parseUpstreamJson } from '../unified/completion.ts';
import { wantsStreamUsage } from '../unified/request-fields.ts';
import { streamTap } from '../unified/translated-stream.ts';
import { chatRequest } from './chat-request.ts';
import { completionFromChat } from './chat-response.ts';
import { embeddingsFromCohere, embedRequest } from './embed.ts';
import { rerankFromCohere, rerankRequest, usageOfRerank, type RerankContext } from './rerank.ts';
import { CohereStream } from './stream.ts';
import { usageFromCohere } from './usage.ts';

/** Cohere answers a refused API key with 498 ("invalid api token"), not 401. */
const INVALID_TOKEN = 498;

/** What a Cohere answer's translation needs from its request. */
interface CohereContext {
  includeUsage: boolean;
  /** Embeddings were asked for as base64. */
  base64: boolean;
  rerank?: RerankContext;
}

const PATHS: Partial<Record<Operation, string>> = { chat: '/v2/chat', embeddings: '/v2/embed', rerank: '/v2/rerank' };

export function createCohereAdapter(target: Target): ProviderAdapter<CohereContext> {
  return {
    request(operation, body) {
      const stream = operation === 'chat' && body.stream === true;
      const path = PATHS[operation];
      if (path === undefined) throw new GatewayError('operation_not_supported', `Cohere serves chat, embeddings and rerank, not ${operation}.`, { param: 'model' });
      const context: CohereContext = { includeUsage: wantsStreamUsage(body), base64: body.encoding_format === 'base64' };
      let payload: Record<string, unknown>;
      if (operation === 'chat') payload = chatRequest(body, target);
      else if (operation === 'embeddings') payload = embedRequest(body, target);
      else ({ payload, context: context.rerank } = rerankRequest(body, target));
      return {
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' },
        body: JSON.stringify(payload),
        context,
      };
    },

    response(operation, raw, context) {
      const body = parseUpstreamJson(target, raw);
      if (operation === 'rerank') return rerankFromCohere(body, target, context.rerank ?? { returned: null });
      return operation === 'embeddings' ? embeddingsFromCohere(body, target, context.base64) : completionFromChat(target, body);
    },

    stream: (_operation, context) => new CohereStream(target, { emit: true, includeUsage: context.includeUsage, model: target.upstreamModel }),

    error: (status, headers, raw) => upstreamError(target, status === INVALID_TOKEN ? 401 : status, headers, raw),

    describeNative(path, body): NativeRequestInfo {
      const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      const operation = operationOf(path);
      const info: NativeRequestInfo = { operation: operation ?? 'chat', upstreamModel: typeof b.model === 'string' ? b.model : null, stream: b.stream === true };
      // Not an inference call (a model listing): Cohere does not bill it by tokens.
      return operation === null ? { ...info, unbilled: true } : info;
    },

    tap(info, contentType) {
      if (info.unbilled) return jsonBodyTap(() => reported(0, 0));
      if (contentType.includes('text/event-stream')) {
        return streamTap(new CohereStream(target, { emit: false, includeUsage: false, model: target.upstreamModel }));
      }
      // Rerank bills search units in `meta`; chat bills in `usage`, embed in `meta`, both billed_units.
      if (info.operation === 'rerank') return jsonBodyTap((body) => usageOfRerank(body.meta));
      return jsonBodyTap((body) => usageFromCohere(body.usage ?? body.meta, info.operation === 'embeddings'));
    },
  };
}

/** null: not an inference call. */
function operationOf(path: string): Operation | null {
  const p = path.split('?')[0]!;
  if (/\/v2\/chat\/?$/.test(p)) return 'chat';
  if (/\/v2\/embed\/?$/.test(p)) return 'embeddings';
  if (/\/v2\/rerank\/?$/.test(p)) return 'rerank';
  return null;
}
