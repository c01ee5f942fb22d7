/**
 * The OpenAI Responses API on the unified root: POST /v1/responses for every catalog chat model,
 * native where the provider serves it (OpenAI, Azure OpenAI) and bridged through the provider's
 * chat adapter elsewhere. The exchange pipeline does admission, fallback and metering; errors are
 * OpenAI-shaped, as on the rest of /v1.
 */
import { GatewayError } from '../errors/catalog.ts';
import { runExchange } from '../exchange/attempt-loop.ts';
import { translatedBody } from '../exchange/body/translated.ts';
import { translatedStream } from '../exchange/body/translated-stream.ts';
import { responsesBridge } from '../providers/responses/bridge.ts';
import { responsesNative, servesResponses } from '../providers/responses/native.ts';
import { planTargets } from '../routing/plan.ts';
import { parseJsonObject, readBody } from './body.ts';
import { modelHeaders } from './deprecation-headers.ts';
import { prepareWith } from './prepare-adapter.ts';
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
  const admission = (ctx.admission = await ctx.services.admission.admit({
    caller,
    config: runtime.config,
    model,
    requestedModel: body.model,
    operation: 'chat',
    targets: planTargets(runtime.routing, model, caller.orgId),
    inputBytes: raw.length,
    body: { max_tokens: body.max_output_tokens },
  }));
  const stream = body.stream === true;
  const requested = body.model;
  await runExchange(
    {
      ctx,
      caller,
      admission,
      api: 'unified',
      operation: 'chat',
      stream,
      requestedModel: model.model_id,
      targets: admission.targets,
      strategy: runtime.config.routes[model.model_id]?.strategy ?? 'priority',
      promptChars: raw.length,
      headers: { 'x-request-id': ctx.id, ...modelHeaders(resolution) },
      replayable: true,
      native: null,
      prepare: (target) => prepareWith(target, servesResponses(target) ? responsesNative(target) : responsesBridge(target, body, requested), body),
      handler: stream ? translatedStream : translatedBody,
    },
    res,
  );
};

