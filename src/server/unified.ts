/**
 * The unified (OpenAI-compatible) API for JSON operations: chat completions (streamed or not),
 * embeddings, image generations. auth → resolve → plan → adapter → upstream → translate → meter.
 * Deployments are tried in order while the failure is retryable and nothing reached the client.
 */
import type { ServerResponse } from 'node:http';
import type { Operation } from '../catalog/types.ts';
import type { Caller } from '../admission/caller-auth.ts';
import { applyCredential } from '../credentials/backend-auth.ts';
import { GatewayError } from '../errors/catalog.ts';
import type { Exchange } from '../metering/meter.ts';
import type { ExchangeOutcome } from '../metering/record.ts';
import { estimated, type Usage } from '../metering/usage.ts';
import type { ProviderAdapter } from '../providers/contract.ts';
import { createAdapter } from '../providers/registry.ts';
import { planTargets } from '../routing/plan.ts';
import type { Target } from '../routing/target.ts';
import { transportError, type OutboundRequest } from '../upstream/transport.ts';
import { parseJsonObject, readBody } from './body.ts';
import { abortOnClientClose, readAll, writeWithBackpressure } from './client-stream.ts';
import { modelHeaders } from './deprecation-headers.ts';
import { sendJson } from './respond.ts';
import type { Handler, RequestContext } from './services.ts';

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
    const targets = planTargets(runtime.routing, model);
    const call: UnifiedCall = {
      ctx,
      caller,
      operation,
      body,
      promptChars: raw.length,
      stream: operation === 'chat' && body.stream === true,
      requestedModel: modelId,
      headers: { 'x-request-id': ctx.id, ...modelHeaders(resolution) },
    };
    await runAttempts(call, targets, res);
  };
}

interface UnifiedCall {
  ctx: RequestContext;
  caller: Caller;
  operation: Operation;
  body: Record<string, unknown>;
  /** Size of the request, for estimating prompt tokens when no usage is reported. */
  promptChars: number;
  stream: boolean;
  requestedModel: string;
  headers: Record<string, string>;
}

async function runAttempts(call: UnifiedCall, targets: Target[], res: ServerResponse): Promise<void> {
  const { services } = call.ctx;
  const abort = abortOnClientClose(res);
  for (let attempt = 1; attempt <= targets.length; attempt++) {
    const target = targets[attempt - 1]!;
    const last = attempt === targets.length;
    const settle = (status: number, outcome: ExchangeOutcome, usage: Usage | null, firstByteAt: number | null) =>
      services.meter.settle(exchange(call, target, attempt, status, outcome, usage, firstByteAt));

    let adapter: ProviderAdapter;
    try {
      adapter = createAdapter(target);
    } catch (err) {
      if (!last) continue;
      throw err;
    }
    const up = adapter.request(call.operation, call.body);
    const outbound: OutboundRequest = {
      method: up.method,
      url: target.baseUrl + up.path,
      headers: { ...target.provider.default_headers, ...up.headers },
      body: up.body,
    };
    let response;
    try {
      await applyCredential(target, outbound);
      services.metrics.overhead.labels('unified').observe((performance.now() - call.ctx.startedAt) / 1000);
      response = await services.upstream.send(outbound, abort.signal);
    } catch (err) {
      const error = transportError(err, target.baseUrl);
      if (abort.signal.aborted) return void settle(499, 'aborted', null, null);
      if (error.retryable && !last) continue;
      settle(error.status, 'upstream_error', null, null);
      throw error;
    }
    const firstByteAt = performance.now();

    if (response.statusCode >= 400) {
      const error = adapter.error(response.statusCode, response.headers, await readAll(response.body).catch(() => Buffer.alloc(0)));
      if (error.retryable && !last) continue;
      settle(response.statusCode, 'upstream_error', null, firstByteAt);
      throw error;
    }

    call.ctx.labels.provider = target.provider.name;
    const headers = { ...call.headers, 'x-tollbooth-provider': target.provider.name, 'x-tollbooth-attempts': String(attempt) };
    if (call.stream) {
      const result = await streamToClient(call, target, adapter, response.body, res, headers, abort.signal);
      settle(200, result.outcome, result.usage, firstByteAt);
      return;
    }
    let translated;
    try {
      translated = adapter.response(call.operation, await readAll(response.body));
    } catch (err) {
      const error = transportError(err, target.baseUrl);
      if (abort.signal.aborted) return void settle(499, 'aborted', null, firstByteAt);
      if (error.retryable && !last) continue;
      settle(error.status, 'upstream_error', null, firstByteAt);
      throw error;
    }
    sendJson(res, 200, translated.body, headers);
    settle(200, 'ok', translated.usage ?? estimated(call.promptChars, Buffer.byteLength(translated.body)), firstByteAt);
    return;
  }
}

async function streamToClient(
  call: UnifiedCall,
  target: Target,
  adapter: ProviderAdapter,
  upstream: AsyncIterable<Uint8Array> & { destroy(): void },
  res: ServerResponse,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<{ outcome: ExchangeOutcome; usage: Usage }> {
  const translator = adapter.stream(call.operation);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...headers });
  res.flushHeaders();
  let firstChunk = true;
  let clientLeft = false;
  try {
    for await (const chunk of upstream) {
      const out = translator.push(chunk);
      if (out.length === 0) continue;
      if (firstChunk) {
        firstChunk = false;
        observeFirstChunk(call, target);
      }
      if (!(await writeWithBackpressure(res, out))) {
        clientLeft = true;
        break;
      }
    }
  } catch {
    // The upstream body failed mid-way (reset, body timeout) or the client left and aborted it.
    clientLeft = signal.aborted;
  }
  if (clientLeft) upstream.destroy();
  const tail = translator.finish();
  if (!res.writableEnded) res.end(clientLeft ? undefined : tail);
  const outcome: ExchangeOutcome = clientLeft
    ? 'aborted'
    : translator.outcome === 'complete'
      ? 'ok'
      : translator.outcome === 'error'
        ? 'stream_error'
        : 'truncated';
  return { outcome, usage: translator.usage ?? estimated(call.promptChars, translator.generatedChars) };
}

function observeFirstChunk(call: UnifiedCall, target: Target): void {
  call.ctx.services.metrics.timeToFirstChunk
    .labels(call.operation, target.provider.name, target.model?.model_id ?? 'unknown')
    .observe((performance.now() - call.ctx.startedAt) / 1000);
}

function exchange(
  call: UnifiedCall,
  target: Target,
  attempts: number,
  status: number,
  outcome: ExchangeOutcome,
  usage: Usage | null,
  firstByteAt: number | null,
): Exchange {
  return {
    requestId: call.ctx.id,
    caller: call.caller,
    api: 'unified',
    operation: call.operation,
    stream: call.stream,
    requestedModel: call.requestedModel,
    target,
    status,
    outcome,
    usage,
    attempts,
    startedAt: call.ctx.startedAt,
    firstByteAt,
    endedAt: performance.now(),
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
