/**
 * The Gemini API adapter (generativelanguage.googleapis.com): unified chat ↔ v1beta generateContent
 * / streamGenerateContent?alt=sse, unified embeddings ↔ batchEmbedContents, and the native
 * passthrough's request description and usage tap. The x-goog-api-key header is set by
 * src/credentials/backend-auth.ts from the catalog's auth schema.
 */
import { GatewayError } from '../../errors/catalog.ts';
import type { Target } from '../../routing/target.ts';
import type { ProviderAdapter, UpstreamRequest } from '../contract.ts';
import { parseUpstreamJson } from '../unified/completion.ts';
import { wantsStreamUsage } from '../unified/request-fields.ts';
import { toBatchEmbed, toEmbeddingList, type EmbeddingRequest } from './embeddings.ts';
import { geminiError } from './errors.ts';
import { describeGeminiRequest, geminiTap } from './native.ts';
import { toGenerateContent } from './request.ts';
import { toChatCompletion } from './response.ts';
import { GeminiStream } from './stream.ts';

/** What a Gemini answer's translation needs from its request. */
interface GeminiContext {
  includeUsage: boolean;
  /** The embeddings request as sent (its answer is mapped back onto it). */
  embedding: EmbeddingRequest | null;
}

export function createGeminiAdapter(target: Target): ProviderAdapter<GeminiContext> {
  const model = target.upstreamModel.replace(/^models\//, '');
  // v1beta is the superset: thinking, JSON Schema tools and response schemas live there first.
  const base = `/v1beta/models/${model}`;

  return {
    request(operation, body): UpstreamRequest<GeminiContext> {
      if (operation === 'embeddings') {
        const embedding = toBatchEmbed(body, model);
        return post(`${base}:batchEmbedContents`, embedding.body, false, { includeUsage: false, embedding });
      }
      if (operation !== 'chat') {
        throw new GatewayError('operation_not_supported', `Gemini serves chat and embeddings through the unified API, not ${operation}.`);
      }
      const stream = body.stream === true;
      const context = { includeUsage: stream && wantsStreamUsage(body), embedding: null };
      return post(`${base}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`, toGenerateContent(body, model), stream, context);
    },

    response(operation, raw, context) {
      const parsed = parseUpstreamJson(target, raw);
      if (operation === 'embeddings' && context.embedding) return toEmbeddingList(parsed, model, context.embedding);
      return toChatCompletion(parsed, model);
    },

    stream: (_operation, context) => new GeminiStream(target, { emit: true, includeUsage: context.includeUsage, model }),

    error: (status, headers, raw) => geminiError(target, status, headers, raw),

    describeNative(path) {
      const native = describeGeminiRequest(path);
      return native.billed ? native.info : { ...native.info, unbilled: true };
    },

    tap: (info, contentType) => geminiTap(target, { info, billed: info.unbilled !== true }, contentType),
  };
}

function post(path: string, body: unknown, stream: boolean, context: GeminiContext): UpstreamRequest<GeminiContext> {
  return {
    context,
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' },
    body: JSON.stringify(body),
  };
}
