/**
 * The unified (OpenAI-compatible) API for JSON operations: chat completions and legacy text
 * completions (streamed or not), embeddings, image generations, rerank (the Cohere/Jina shape) and
 * text to speech (audio streamed back as it comes). Parses and checks the request, resolves the
 * model, admits it and hands it to the exchange pipeline (src/exchange/) with the body handler the
 * operation needs.
 */
import type { Catalog } from '../catalog/catalog.ts';
import type { Operation } from '../catalog/types.ts';
import { GatewayError } from '../errors/catalog.ts';
import { binaryStream } from '../exchange/body/binary-stream.ts';
import type { Prepared } from '../exchange/exchange-request.ts';
import { speechCharacters } from '../providers/openai-compatible/speech.ts';
import { createAdapter } from '../providers/registry.ts';
import type { Target } from '../routing/target.ts';
import { parseJsonObject, readBody } from './body.ts';
import { runUnified } from './run-unified.ts';
import type { Handler } from './services.ts';

export function unifiedHandler(operation: Exclude<Operation, 'audio_transcription'>): Handler {
  return async (ctx, req, res) => {
    const { runtime } = ctx;
    const caller = runtime.auth.authenticate(req.headers);
    const raw = await readBody(req, runtime.config.limits.max_body_bytes);
    const body = parseJsonObject(raw);
    const modelId = checkBody(operation, body);
    const resolution = runtime.catalog.resolve(modelId);
    const model = resolution.model;
    if (!model.operations.includes(operation)) {
      throw new GatewayError('operation_not_supported', notServed(runtime.catalog, model.model_id, operation), { param: 'model' });
    }
    ctx.labels.model = model.model_id;
    if (resolution.requested.status !== 'active' && resolution.requested.status !== 'preview') {
      ctx.services.metrics.deprecatedModelRequests.labels(resolution.requested.model_id, model.model_id).inc();
    }
    const speech = operation === 'audio_speech';
    const stream = speech || ((operation === 'chat' || operation === 'text_completion') && body.stream === true);
    await runUnified(ctx, res, {
      caller,
      resolution,
      requestedModel: modelId,
      operation,
      stream,
      raw,
      admissionBody: body,
      prepare: (target) => prepare(target, operation, body),
      // Speech answers audio, passed through as it comes; its usage is its input's characters.
      ...(speech ? { overrides: { handler: binaryStream, promptChars: speechCharacters(body.input) } } : {}),
    });
  };
}

/** The adapter for the target and the upstream request it translates the unified one into. */
function prepare(target: Target, operation: Operation, body: Record<string, unknown>): Prepared {
  const adapter = createAdapter(target);
  const up = adapter.request(operation, body);
  return {
    adapter,
    context: up.context,
    outbound: { method: up.method, url: target.baseUrl + up.path, headers: { ...target.provider.default_headers, ...up.headers }, body: up.body },
  };
}

/** Checks the few fields the gateway itself relies on; the provider validates the rest. */
function checkBody(operation: Operation, body: Record<string, unknown>): string {
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw new GatewayError('invalid_request', "The request must name a 'model' (a catalog model id; see GET /v1/models).", { param: 'model' });
  }
  if (operation === 'chat' && (!Array.isArray(body.messages) || body.messages.length === 0)) {
    throw new GatewayError('invalid_request', "'messages' must be a non-empty array.", { param: 'messages' });
  }
  if (operation === 'embeddings' && body.input === undefined) {
    throw new GatewayError('invalid_request', "'input' is required.", { param: 'input' });
  }
  if (operation === 'images' && typeof body.prompt !== 'string') {
    throw new GatewayError('invalid_request', "'prompt' must be a string.", { param: 'prompt' });
  }
  if (operation === 'text_completion' && typeof body.prompt !== 'string' && !Array.isArray(body.prompt)) {
    throw new GatewayError('invalid_request', "'prompt' must be a string or an array.", { param: 'prompt' });
  }
  if (operation === 'rerank') {
    if (typeof body.query !== 'string' || body.query.length === 0) {
      throw new GatewayError('invalid_request', "'query' must be a non-empty string.", { param: 'query' });
    }
    if (!Array.isArray(body.documents) || body.documents.length === 0) {
      throw new GatewayError('invalid_request', "'documents' must be a non-empty array.", { param: 'documents' });
    }
  }
  if (operation === 'audio_speech' && (typeof body.input !== 'string' || body.input.length === 0)) {
    throw new GatewayError('invalid_request', "'input' must be a non-empty string (the text to speak).", { param: 'input' });
  }
  return body.model;
}

const OPERATION_NAMES: Record<Operation, string> = {
  chat: 'chat completions',
  embeddings: 'embeddings',
  images: 'image generation',
  audio_transcription: 'audio transcription',
  text_completion: 'text completions (POST /v1/completions)',
  rerank: 'rerank (POST /v1/rerank)',
  audio_speech: 'text to speech (POST /v1/audio/speech)',
};

/** Why the model cannot do this, and which catalog models can (a few, by id). */
function notServed(catalog: Catalog, modelId: string, operation: Operation): string {
  const servers = [...catalog.models.values()].filter((m) => m.status === 'active' && m.operations.includes(operation)).map((m) => m.model_id);
  const hint = servers.length === 0 ? '' : ` Models that do: ${servers.slice(0, 5).join(', ')}${servers.length > 5 ? ', …' : ''}.`;
  return `The model '${modelId}' does not support ${OPERATION_NAMES[operation]}.${hint}`;
}
