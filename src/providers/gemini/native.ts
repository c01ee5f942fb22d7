/**
 * Native passthrough for the Gemini API (@google/genai and friends): what a request is, read from
 * its path (/v1beta/models/{model}:{method}), and a tap that reads usage without touching a byte.
 */
import type { Operation } from '../../catalog/types.ts';
import { reported, type Usage } from '../../metering/usage.ts';
import type { Target } from '../../routing/target.ts';
import { jsonBodyTap } from '../body-tap.ts';
import type { NativeRequestInfo, UsageTap } from '../contract.ts';
import { streamTap } from '../unified/translated-stream.ts';
import { GeminiStream } from './stream.ts';
import { usageFromGemini } from './usage.ts';
import type { GeminiResponse } from './wire.ts';

const MODEL_METHOD = /\/models\/([^/:]+)(?::([A-Za-z]+))?$/;
const EMBED_METHODS = new Set(['embedContent', 'batchEmbedContents']);
const BILLED_METHODS = new Set(['generateContent', 'streamGenerateContent', ...EMBED_METHODS]);

export interface GeminiNativeRequest {
  info: NativeRequestInfo;
  /** countTokens, model listings and lookups cost nothing: their usage is zero, not an estimate. */
  billed: boolean;
}

export function describeGeminiRequest(path: string): GeminiNativeRequest {
  const m = MODEL_METHOD.exec(safeDecode(path));
  const method = m?.[2] ?? '';
  const operation: Operation = EMBED_METHODS.has(method) ? 'embeddings' : 'chat';
  return {
    info: { operation, upstreamModel: m?.[1] ?? null, stream: method === 'streamGenerateContent' },
    billed: BILLED_METHODS.has(method),
  };
}

export function geminiTap(target: Target, request: GeminiNativeRequest, contentType: string): UsageTap {
  const { info } = request;
  if (!request.billed) return jsonBodyTap(() => reported(0, 0));
  if (contentType.includes('text/event-stream')) {
    return streamTap(new GeminiStream(target, { emit: false, includeUsage: false, model: info.upstreamModel ?? 'unknown' }));
  }
  return jsonBodyTap((body) => (info.operation === 'embeddings' ? embedUsage(body) : generateUsage(body)));
}

/** streamGenerateContent without alt=sse answers a JSON array of chunks: the last usage counts. */
function generateUsage(body: unknown): Usage | null {
  const chunks = (Array.isArray(body) ? body : [body]) as GeminiResponse[];
  let usage: Usage | null = null;
  for (const chunk of chunks) usage = usageFromGemini(chunk?.usageMetadata) ?? usage;
  return usage;
}

function embedUsage(body: { usageMetadata?: { promptTokenCount?: unknown } }): Usage | null {
  const tokens = body.usageMetadata?.promptTokenCount;
  return typeof tokens === 'number' ? reported(tokens, 0) : null;
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
