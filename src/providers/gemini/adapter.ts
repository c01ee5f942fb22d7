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
import { describeGeminiRequest, geminiTap, type GeminiNativeRequest } from './native.ts';
import { toGenerateContent } from './request.ts';
import { toChatCompletion } from './response.ts';
import { GeminiStream } from './stream.ts';

export function createGeminiAdapter(target: Target): ProviderAdapter {
  const model = target.upstreamModel.replace(/^models\//, '');
  // v1beta is the superset: thinking, JSON Schema tools and response schemas live there first.
  const base = `/v1beta/models/${model}`;
  let includeUsage = false;
  let embedding: EmbeddingRequest | null = null;
  let native: GeminiNativeRequest | null = null;

  return {
    request(operation, body): UpstreamRequest {
      if (operation === 'embeddings') {
        embedding = toBatchEmbed(body, model);
        return post(`${base}:batchEmbedContents`, embedding.body, false);
      }
      if (operation !== 'chat') {
        throw new GatewayError('operation_not_supported', `Gemini serves chat and embeddings through the unified API, not ${operation}.`);
      }
      const stream = body.stream === true;
      includeUsage = stream && wantsStreamUsage(body);
      return post(`${base}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`, toGenerateContent(body, model), stream);
    },

    response(operation, raw) {
      const parsed = parseUpstreamJson(target, raw);
      if (operation === 'embeddings' && embedding) return toEmbeddingList(parsed, model, embedding);
      return toChatCompletion(parsed, model);
    },

    stream: () => new GeminiStream(target, { emit: true, includeUsage, model }),

    error: (status, headers, raw) => geminiError(target, status, headers, raw),

    describeNative(path) {
      native = describeGeminiRequest(path);
      return native.info;
    },

    tap: (info, contentType) => geminiTap(target, native ?? { info, billed: true }, contentType),
  };
}

function post(path: string, body: unknown, stream: boolean): UpstreamRequest {
  return {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' },
    body: JSON.stringify(body),
  };
}
