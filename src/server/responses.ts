/**
 * The OpenAI Responses API on the unified root: POST /v1/responses for every catalog chat model,
 * native where the provider serves it (OpenAI, Azure OpenAI, and the vendors whose catalog paths list
 * /responses) and bridged through the provider's chat adapter elsewhere. The exchange pipeline does admission, fallback and metering; errors are
 * OpenAI-shaped, as on the rest of /v1.
 */
import { GatewayError } from '../errors/catalog.ts';
import { responsesBridge } from '../providers/responses/bridge.ts';
import { responsesNative, servesResponses } from '../providers/responses/native.ts';
import { parseJsonObject, readBody } from './body.ts';
import { prepareWith } from './prepare-adapter.ts';
import { runUnified } from './run-unified.ts';
import type { Handler } from './services.ts';

export const responsesHandler: Handler = async (ctx, req, res) => {
  const { runtime } = ctx;
  const caller = runtime.auth.authenticate(req.headers);
  const raw = await readBody(req, runtime.config.limits.max_body_bytes);
  const body = parseJsonObject(raw);
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw new GatewayError('invalid_request', "The request must name a 'model' (a catalog model id; see GET /v1/models).", { param: 'model' });
  }
  if (body.input === undefined || body.input === null) throw new GatewayError('invalid_request', "'input' is required.", { param: 'input' });
  const resolution = runtime.catalog.resolve(body.model);
  const model = resolution.model;
  if (!model.operations.includes('chat')) {
    throw new GatewayError('operation_not_supported', `The model '${model.model_id}' does not support chat.`, { param: 'model' });
  }
  ctx.labels.model = model.model_id;
  const stream = body.stream === true;
  const requested = body.model;
  await runUnified(ctx, res, {
    caller,
    resolution,
    requestedModel: requested,
    operation: 'chat',
    stream,
    raw,
    admissionBody: { max_tokens: body.max_output_tokens },
    prepare: (target) => prepareWith(target, servesResponses(target) ? responsesNative(target) : responsesBridge(target, body, requested), body),
  });
};

