/**
 * The Anthropic Messages API on the unified root: POST /v1/messages for every catalog model (native
 * on Anthropic deployments and Bedrock's Anthropic models, bridged through the provider's chat
 * adapter elsewhere) and POST /v1/messages/count_tokens (Anthropic's and Gemini's own count, an estimate elsewhere; never charged). The
 * exchange pipeline does admission, fallback and metering; this route owes Anthropic's error shape.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { isDenial } from '../admission/denial.ts';
import { GatewayError } from '../errors/catalog.ts';
import { reported } from '../metering/usage.ts';
import { messagesBridge } from '../providers/messages/bridge.ts';
import { estimateInputTokens, geminiTokenCount } from '../providers/messages/count-tokens.ts';
import { anthropicErrorBody, anthropicErrorEvent } from '../providers/messages/errors.ts';
import { messagesModelId } from '../providers/messages/model-name.ts';
import { messagesNative } from '../providers/messages/native.ts';
import { isBedrockAnthropic, messagesBedrockNative } from '../providers/messages/bedrock-native.ts';
import { planTargets } from '../routing/plan.ts';
import type { Target } from '../routing/target.ts';
import { parseJsonObject, readBody } from './body.ts';
import { modelHeaders } from './deprecation-headers.ts';
import { prepareWith } from './prepare-adapter.ts';
import { boundedMessage, sendJson, toGatewayError } from './respond.ts';
import { runUnified } from './run-unified.ts';
import type { Handler, RequestContext } from './services.ts';

type Body = Record<string, unknown>;

export const messagesHandler: Handler = anthropicErrors(async (ctx, req, res) => {
  const { body, raw, resolution, caller } = await readRequest(ctx, req);
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new GatewayError('invalid_request', "'messages' must be a non-empty array.", { param: 'messages' });
  }
  const stream = body.stream === true;
  const forwarded = anthropicHeaders(req.headers);
  await runUnified(ctx, res, {
    caller,
    resolution,
    requestedModel: body.model as string,
    operation: 'chat',
    stream,
    raw,
    admissionBody: body,
    prepare: (target) => prepareWith(target, messagesAdapter(target, forwarded, body.model as string), body),
  });
});

export const countTokensHandler: Handler = anthropicErrors(async (ctx, req, res) => {
  const { body, raw, model, resolution, caller } = await readRequest(ctx, req);
  const counting = planTargets(ctx.runtime.routing, model, caller.orgId).filter(countsNatively);
  if (counting.length === 0) {
    // No provider of this model counts Messages tokens: an estimate, said to be one, and no upstream call.
    const headers = { 'x-request-id': ctx.id, 'x-tollbooth-token-count': 'estimated', ...modelHeaders(resolution) };
    return sendJson(res, 200, JSON.stringify({ input_tokens: estimateInputTokens(body) }), headers);
  }
  const { stream: _ignored, max_tokens: _unused, ...counted } = body;
  const forwarded = anthropicHeaders(req.headers);
  await runUnified(ctx, res, {
    caller,
    resolution,
    requestedModel: body.model as string,
    operation: 'chat',
    stream: false,
    raw,
    admissionBody: {},
    unbilled: 'count_tokens',
    only: countsNatively,
    // Providers do not bill a count: zero tokens, zero credits (credits.ts: no tokens, no run credit).
    prepare: (target) => {
      if (target.provider.api === 'gemini') return prepareWith(target, geminiTokenCount(target), counted);
      const native = messagesNative(target, forwarded, '/messages/count_tokens');
      return prepareWith(target, { ...native, response: (_op, bytes) => ({ body: bytes, usage: reported(0, 0) }) }, counted);
    },
    overrides: { strategy: 'priority', promptChars: 0 },
  });
});

/** Native on Anthropic and on Bedrock's Anthropic models (InvokeModel with a Messages body); bridged elsewhere. */
function messagesAdapter(target: Target, forwarded: Record<string, string>, model: string) {
  if (target.provider.api === 'anthropic') return messagesNative(target, forwarded);
  if (target.provider.api === 'bedrock' && isBedrockAnthropic(target.upstreamModel)) return messagesBedrockNative(target, forwarded);
  return messagesBridge(target, model);
}

/** Anthropic and Gemini count tokens themselves; the others get an estimate. */
function countsNatively(target: Target): boolean {
  return target.provider.api === 'anthropic' || target.provider.api === 'gemini';
}

async function readRequest(ctx: RequestContext, req: IncomingMessage) {
  const caller = ctx.runtime.auth.authenticate(req.headers);
  const raw = await readBody(req, ctx.runtime.config.limits.max_body_bytes);
  const body = parseJsonObject(raw);
  if (typeof body.model !== 'string' || body.model.length === 0) {
    throw new GatewayError('invalid_request', "The request must name a 'model' (a catalog model id or a name in anthropic_model_map).", { param: 'model' });
  }
  const resolution = ctx.runtime.catalog.resolve(messagesModelId(body.model, ctx.runtime.config.anthropic_model_map, ctx.runtime.catalog));
  const model = resolution.model;
  if (!model.operations.includes('chat')) {
    throw new GatewayError('operation_not_supported', `The model '${model.model_id}' does not support chat.`, { param: 'model' });
  }
  ctx.labels.model = model.model_id;
  return { body, raw, model, resolution, caller };
}

/** anthropic-beta (feature flags) goes to Anthropic as the caller sent it; anthropic-version is the catalog's. */
function anthropicHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const beta = headers['anthropic-beta'];
  return typeof beta === 'string' && beta.length > 0 ? { 'anthropic-beta': beta } : {};
}

/** Failures on this route reach the caller in Anthropic's error shape (admission denials keep the DenialEnvelope). */
function anthropicErrors(handler: Handler): Handler {
  return async (ctx, req, res) => {
    try {
      await handler(ctx, req, res);
    } catch (err) {
      const error = toGatewayError(err, ctx.services.log);
      if (error.status >= 500) ctx.services.log.warn({ request_id: ctx.id, code: error.code, status: error.status }, boundedMessage(error.message));
      if (res.headersSent) {
        if (!res.writableEnded) res.end(anthropicErrorEvent({ ...error, message: boundedMessage(error.message) }));
        return;
      }
      const body = isDenial(err) ? JSON.stringify(err.envelope) : anthropicErrorBody(error.status, boundedMessage(error.message), error.code);
      sendJson(res, error.status, body, { 'x-request-id': ctx.id, ...error.headers });
      if (!req.complete) req.resume();
    }
  };
}
