/**
 * The unified (OpenAI-compatible) API for JSON operations: chat completions (streamed or not),
 * embeddings, image generations. Parses and checks the request, resolves the model, admits it and
 * hands it to the exchange pipeline (src/exchange/) with the translating body handler.
 */
import type { Operation } from '../catalog/types.ts';
import { GatewayError } from '../errors/catalog.ts';
import type { Prepared } from '../exchange/exchange-request.ts';
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
      throw new GatewayError('operation_not_supported', `The model '${model.model_id}' does not support ${operation}.`, { param: 'model' });
    }
    ctx.labels.model = model.model_id;
    if (resolution.requested.status !== 'active' && resolution.requested.status !== 'preview') {
      ctx.services.metrics.deprecatedModelRequests.labels(resolution.requested.model_id, model.model_id).inc();
    }
    const stream = operation === 'chat' && body.stream === true;
    await runUnified(ctx, res, {
      caller,
      resolution,
      requestedModel: modelId,
      operation,
      stream,
      raw,
      admissionBody: body,
      prepare: (target) => prepare(target, operation, body),
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
  return body.model;
}
