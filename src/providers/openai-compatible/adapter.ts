/**
 * The one adapter for OpenAI and every OpenAI-compatible vendor (Groq, DeepSeek, xAI, Mistral,
 * Cerebras, Together, Fireworks, Perplexity, OpenRouter, vLLM). What differs between them is data:
 * the provider record's base_url, openai_compat switches and passthrough_paths (a vendor serves
 * text completions, rerank or speech only where its documented paths list them).
 */
import type { Operation } from '../../catalog/types.ts';
import { GatewayError } from '../../errors/catalog.ts';
import type { Target } from '../../routing/target.ts';
import { reported } from '../../metering/usage.ts';
import { bytesBodyTap, jsonBodyTap } from '../body-tap.ts';
import type { NativeRequestInfo, ProviderAdapter, UpstreamRequest } from '../contract.ts';
import { upstreamError } from '../upstream-error.ts';
import { speechCharacters, SpeechStream, speechTap } from './speech.ts';
import { OpenAIStream, openAIStreamTap } from './stream.ts';
import { normalize } from './normalize.ts';
import { requestedImageVariant, usageOfAnswer, usageOfBody, withImageVariant } from './usage.ts';

const PATHS: Record<Operation, string> = {
  chat: '/chat/completions',
  embeddings: '/embeddings',
  images: '/images/generations',
  audio_transcription: '/audio/transcriptions',
  text_completion: '/completions',
  rerank: '/rerank',
  audio_speech: '/audio/speech',
};

/** Served only by the vendors whose documented paths (the catalog's passthrough_paths) list them. */
const LISTED_ONLY = new Set<Operation>(['text_completion', 'rerank', 'audio_speech']);

const DESCRIBED: Record<string, string> = {
  text_completion: 'text completions (/completions)',
  rerank: 'rerank (/rerank)',
  audio_speech: 'text to speech (/audio/speech)',
};

/** What an OpenAI-compatible answer's translation needs from its request. */
export interface OpenAIContext {
  /** Usage was asked for on the caller's behalf: its chunk is hidden from the caller. */
  hideUsageChunk: boolean;
  /** Speech: what the answer is billed for (speech.ts). */
  speech?: { characters: number; sse: boolean };
  /** Images: the size and quality asked for, naming the images an answer leaves plain (usage.ts withImageVariant). */
  imageVariant?: string;
}

export function createOpenAICompatibleAdapter(target: Target): ProviderAdapter<OpenAIContext> {
  const compat = target.provider.openai_compat;

  return {
    request(operation, body): UpstreamRequest<OpenAIContext> {
      if (LISTED_ONLY.has(operation) && !target.provider.passthrough_paths.includes(PATHS[operation])) {
        throw new GatewayError('operation_not_supported', `${target.provider.display_name} does not serve ${DESCRIBED[operation]}.`, { param: 'model' });
      }
      let hideUsageChunk = false;
      const upstream: Record<string, unknown> = { ...body, model: target.upstreamModel };
      const stream = (operation === 'chat' || operation === 'text_completion') && body.stream === true;
      if (stream && compat) {
        const asked = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
        if (!compat.accepts_stream_options) delete upstream.stream_options;
        else if (!asked && compat.stream_usage === 'opt_in') {
          // Usage is how we meter: ask for it, and hide the extra chunk from a caller who did not.
          upstream.stream_options = { ...(body.stream_options as object | undefined), include_usage: true };
          hideUsageChunk = true;
        }
      }
      if (operation === 'audio_speech') {
        const speech = { characters: speechCharacters(body.input), sse: body.stream_format === 'sse' };
        return {
          method: 'POST',
          path: PATHS[operation],
          headers: { 'content-type': 'application/json', accept: speech.sse ? 'text/event-stream' : '*/*' },
          body: JSON.stringify(upstream),
          context: { hideUsageChunk, speech },
        };
      }
      const imageVariant = operation === 'images' ? requestedImageVariant(body) : undefined;
      return {
        method: 'POST',
        path: PATHS[operation],
        headers: { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' },
        body: JSON.stringify(upstream),
        context: imageVariant === undefined ? { hideUsageChunk } : { hideUsageChunk, imageVariant },
      };
    },

    response(operation, raw, context) {
      const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      const notJson = () =>
        new GatewayError('upstream_bad_response', `${target.provider.display_name} returned a body that is not a JSON object.`, {
          details: { provider: target.provider.name },
        });
      if (operation === 'chat' && (compat?.tool_calls_incomplete || compat?.content_parts)) {
        // This vendor's answers may need fixing: the whole body is read.
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
        } catch {
          throw notJson();
        }
        if (typeof body !== 'object' || body === null) throw notJson();
        const usage = usageOfAnswer(body, compat, operation);
        return normalize(compat, body, { nextIndex: 0 }) ? { body: JSON.stringify(body), usage } : { body: raw, usage };
      }
      if (!looksLikeObject(bytes)) throw notJson();
      // The vendor already speaks the unified shape: its bytes go to the client unchanged. Usage is
      // read from the tail only; a body without it is abnormal, so only then is the whole parsed
      // (a `{garbage}` that merely starts and ends with braces is no answer).
      const usage = usageOfBody(bytes, compat, operation);
      if (usage === null && !isJsonObject(bytes)) throw notJson();
      return { body: raw, usage: withImageVariant(usage, context.imageVariant) };
    },

    stream: (operation, context) =>
      operation === 'audio_speech'
        ? new SpeechStream({ characters: context.speech?.characters ?? 0, sse: context.speech?.sse ?? false, tokenPriced: tokenPriced(target) })
        : new OpenAIStream({ compat, hideUsageChunk: context.hideUsageChunk, emit: true, countText: operation === 'text_completion' }),

    error: (status, headers, raw) => upstreamError(target, status, headers, raw),

    describeNative(path, body): NativeRequestInfo {
      const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
      const operation = operationOf(path);
      const imageVariant = operation === 'images' ? requestedImageVariant(b) : undefined;
      return {
        operation,
        upstreamModel: typeof b.model === 'string' ? b.model : null,
        stream: b.stream === true,
        ...(operation === 'audio_speech' ? { units: { character: speechCharacters(b.input) } } : {}),
        ...(imageVariant === undefined ? {} : { imageVariant }),
        // A model listing or lookup is not an inference call: the provider does not bill it.
        ...(isModelsPath(path) ? { unbilled: true } : {}),
      };
    },

    tap(info, contentType) {
      if (info.unbilled) return jsonBodyTap(() => reported(0, 0));
      if (info.operation === 'audio_speech') return speechTap(info.units?.character ?? 0, contentType, tokenPriced(target));
      if (contentType.includes('text/event-stream')) return openAIStreamTap(compat, info.operation === 'text_completion');
      return bytesBodyTap((body) => withImageVariant(usageOfBody(body, compat, info.operation), info.imageVariant));
    },
  };
}

function operationOf(path: string): Operation {
  const p = path.split('?')[0]!;
  if (p.includes('/embeddings')) return 'embeddings';
  if (p.includes('/images/')) return 'images';
  if (p.endsWith('/audio/speech')) return 'audio_speech';
  if (p.includes('/audio/')) return 'audio_transcription';
  if (p.endsWith('/rerank')) return 'rerank';
  // /completions, but not /chat/completions (nor Mistral's /fim/completions, which is code
  // completion billed like chat).
  if (/(^|\/v1)\/completions$/.test(p)) return 'text_completion';
  return 'chat';
}

/** `/models` or `/models/<id>` (OpenAI's list and retrieve; Azure's and every compatible vendor's alike). */
function isModelsPath(path: string): boolean {
  return /\/models(\/[^/]+)?$/.test(path.split('?')[0]!);
}

/** The catalog prices the served model by tokens (speech without reported tokens: estimated). */
function tokenPriced(target: Target): boolean {
  return target.model !== null && target.model.input_usd_per_1m !== null;
}

/** First and last non-space bytes are braces: a cheap guard against HTML error pages and the like. */
function looksLikeObject(bytes: Buffer): boolean {
  let first = 0;
  let last = bytes.length - 1;
  while (first <= last && isSpace(bytes[first]!)) first++;
  while (last > first && isSpace(bytes[last]!)) last--;
  return bytes[first] === 0x7b && bytes[last] === 0x7d && first < last;
}

function isJsonObject(bytes: Buffer): boolean {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}
