/**
 * The unified (OpenAI-compatible) API for JSON operations: chat completions (streamed or not),
 * embeddings, image generations. auth → resolve → plan → adapter → upstream → translate → meter.
 * Deployments are tried in order while the failure is retryable and nothing reached the client.
 */
import type { ServerResponse } from 'node:http';
import type { Operation } from '../catalog/types.ts';
import type { Caller } from '../admission/caller-auth.ts';
import type { Admission } from '../admission/gate.ts';
import { applyCredential } from '../credentials/backend-auth.ts';
import { GatewayError } from '../errors/catalog.ts';
import type { Exchange } from '../metering/meter.ts';
import type { ExchangeOutcome } from '../metering/record.ts';
import { estimated, type Usage } from '../metering/usage.ts';
import type { ProviderAdapter } from '../providers/contract.ts';
import { createAdapter } from '../providers/registry.ts';
import { planTargets } from '../routing/plan.ts';
import type { Strategy } from '../routing/routing-health.ts';
import type { Target } from '../routing/target.ts';
import { transportError, type OutboundRequest, type UpstreamBody } from '../upstream/transport.ts';
import { parseJsonObject, readBody } from './body.ts';
import { abortOnClientClose, StreamWriter } from './client-stream.ts';
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
    if (resolution.requested.status !== 'active' && resolution.requested.status !== 'preview') {
      ctx.services.metrics.deprecatedModelRequests.labels(resolution.requested.model_id, model.model_id).inc();
    }
    const admission = (ctx.admission = await ctx.services.admission.admit({
      caller,
      config: runtime.config,
      model,
      requestedModel: modelId,
      operation,
      targets: planTargets(runtime.routing, model, caller.orgId),
      inputBytes: raw.length,
      body,
    }));
    const call: UnifiedCall = {
      ctx,
      caller,
      admission,
      operation,
      body,
      promptChars: raw.length,
      stream: operation === 'chat' && body.stream === true,
      requestedModel: modelId,
      headers: { 'x-request-id': ctx.id, ...modelHeaders(resolution) },
    };
    await runAttempts(call, admission.targets, runtime.config.routes[model.model_id]?.strategy ?? 'priority', res);
  };
}

interface UnifiedCall {
  ctx: RequestContext;
  caller: Caller;
  /** Settled by the Meter with the charge; released if no upstream was reached. */
  admission: Admission;
  operation: Operation;
  body: Record<string, unknown>;
  /** Size of the request, for estimating prompt tokens when no usage is reported. */
  promptChars: number;
  stream: boolean;
  requestedModel: string;
  headers: Record<string, string>;
}

/** A failed attempt, not yet settled: the loop decides whether another deployment gets a turn. */
interface FailedAttempt {
  error: GatewayError;
  status: number;
  outcome: ExchangeOutcome;
  firstByteAt: number | null;
}

/**
 * Tries the plan's deployments in the strategy's order, skipping open breakers and refused
 * credentials, while failures are retryable, nothing has reached the client, and the attempt count
 * and deadline allow. Only the last attempt is metered (the serving one, or the final failure).
 */
async function runAttempts(call: UnifiedCall, plan: Target[], strategy: Strategy, res: ServerResponse): Promise<void> {
  const { services } = call.ctx;
  const { health } = services;
  const { usable, refused, waitMs, rateLimited } = health.choose(plan, strategy);
  if (usable.length === 0) {
    // Held back only by the providers' own Retry-After: the caller gets that 429, not a 503.
    throw new GatewayError(rateLimited ? 'upstream_rate_limited' : 'no_deployment_available', `No deployment of '${call.requestedModel}' can serve right now (${refused.join('; ')}).`, {
      headers: waitMs === null ? {} : { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
    });
  }
  const targets = usable.slice(0, health.policy.max_attempts);
  const deadline = call.ctx.startedAt + health.policy.deadline_ms;
  const abort = abortOnClientClose(res);
  for (let i = 0; i < targets.length; i++) {
    const target = targets[i]!;
    if (i > 0) services.metrics.fallbacks.labels(targets[i - 1]!.provider.name, target.provider.name, target.model?.model_id ?? 'unknown').inc();
    const failed = await attempt(call, target, i + 1, res, abort.signal);
    if (failed === null) return;
    const again = failed.error.retryable && i < targets.length - 1 && performance.now() < deadline && !abort.signal.aborted;
    services.metrics.attempts.labels(target.provider.name, target.model?.model_id ?? 'unknown', again ? 'retried' : 'failed').inc();
    if (again) continue;
    services.meter.settle(exchange(call, target, i + 1, failed.status, failed.outcome, null, failed.firstByteAt));
    if (failed.outcome === 'aborted') return;
    throw failed.error;
  }
}

/** One attempt on one deployment. Returns null once the caller has its answer (and it is metered). */
async function attempt(call: UnifiedCall, target: Target, n: number, res: ServerResponse, signal: AbortSignal): Promise<FailedAttempt | null> {
  const { services } = call.ctx;
  const sentAt = performance.now();
  const observe = (status: number | null, firstByteAt: number | null, extra: { streamFailed?: boolean; retryAfterMs?: number | null } = {}) =>
    services.health.observe(target, { status, latencyMs: performance.now() - sentAt, ttfbMs: firstByteAt === null ? null : firstByteAt - sentAt, ...extra });

  let adapter: ProviderAdapter;
  try {
    adapter = createAdapter(target);
  } catch (err) {
    return { error: err as GatewayError, status: 501, outcome: 'upstream_error', firstByteAt: null };
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
    response = await services.upstream.send(outbound, signal);
  } catch (err) {
    const error = transportError(err, target.baseUrl);
    if (signal.aborted) return { error, status: 499, outcome: 'aborted', firstByteAt: null };
    observe(null, null);
    return { error, status: error.status, outcome: 'upstream_error', firstByteAt: null };
  }
  const firstByteAt = performance.now();

  if (response.statusCode >= 400) {
    const error = adapter.error(response.statusCode, response.headers, await response.body.bytes().catch(() => Buffer.alloc(0)));
    observe(response.statusCode, firstByteAt, { retryAfterMs: retryAfterMs(response.headers['retry-after']) });
    return { error, status: response.statusCode, outcome: 'upstream_error', firstByteAt };
  }

  const settle = (outcome: ExchangeOutcome, usage: Usage | null) =>
    services.meter.settle(exchange(call, target, n, outcome === 'aborted' ? 499 : 200, outcome, usage, firstByteAt));
  call.ctx.labels.provider = target.provider.name;
  const headers = { ...call.headers, 'x-tollbooth-provider': target.provider.name, 'x-tollbooth-attempts': String(n) };
  if (call.stream) {
    const result = await streamToClient(call, target, adapter, response.body, res, headers, signal);
    observe(200, firstByteAt, { streamFailed: result.outcome === 'truncated' || result.outcome === 'stream_error' });
    services.metrics.attempts.labels(target.provider.name, target.model?.model_id ?? 'unknown', 'served').inc();
    settle(result.outcome, result.usage);
    return null;
  }
  let translated;
  try {
    translated = adapter.response(call.operation, await response.body.bytes());
  } catch (err) {
    const error = transportError(err, target.baseUrl);
    if (signal.aborted) return { error, status: 499, outcome: 'aborted', firstByteAt };
    observe(null, firstByteAt);
    return { error, status: error.status, outcome: 'upstream_error', firstByteAt };
  }
  sendJson(res, 200, translated.body, headers);
  observe(200, firstByteAt);
  services.metrics.attempts.labels(target.provider.name, target.model?.model_id ?? 'unknown', 'served').inc();
  settle('ok', translated.usage ?? estimated(call.promptChars, Buffer.byteLength(translated.body)));
  return null;
}

/** Retry-After as delay-seconds or an HTTP date, in ms. */
function retryAfterMs(value: string | string[] | undefined): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

async function streamToClient(
  call: UnifiedCall,
  target: Target,
  adapter: ProviderAdapter,
  upstream: UpstreamBody,
  res: ServerResponse,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<{ outcome: ExchangeOutcome; usage: Usage }> {
  const translator = adapter.stream(call.operation);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...headers });
  // The head leaves with the first chunk (one syscall, not two), or on its own if that is slow.
  const flushHead = setTimeout(() => res.flushHeaders(), HEAD_ALONE_AFTER_MS);
  const writer = new StreamWriter(res);
  let firstChunk = true;
  let clientLeft = false;
  let finished = false;
  const finish = () => {
    finished = true;
    clearTimeout(flushHead);
    const tail = translator.finish();
    writer.end(clientLeft ? undefined : tail);
  };
  try {
    const end = await upstream.forEachChunk((chunk) => {
      const out = translator.push(chunk);
      if (out.length === 0) return true;
      if (firstChunk) {
        firstChunk = false;
        clearTimeout(flushHead);
        observeFirstChunk(call, target);
      }
      return writer.write(out);
    }, finish);
    clientLeft = end === 'stopped';
  } catch {
    // The upstream body failed mid-way (reset, body timeout) or the client left and aborted it.
    clientLeft = signal.aborted;
  }
  if (!finished) finish();
  const outcome: ExchangeOutcome = clientLeft
    ? 'aborted'
    : translator.outcome === 'complete'
      ? 'ok'
      : translator.outcome === 'error'
        ? 'stream_error'
        : 'truncated';
  return { outcome, usage: translator.usage ?? estimated(call.promptChars, translator.generatedChars) };
}

/** How long a stream's head waits for its first chunk before it is sent alone. */
const HEAD_ALONE_AFTER_MS = 20;

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
    admission: call.admission,
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
