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
import { GatewayError, isGatewayError } from '../errors/catalog.ts';
import type { Exchange } from '../metering/meter.ts';
import type { ExchangeOutcome } from '../metering/record.ts';
import { billedUsage, estimated, type Usage } from '../metering/usage.ts';
import type { ProviderAdapter, TranslatedResponse } from '../providers/contract.ts';
import { createAdapter } from '../providers/registry.ts';
import { SseBacklog } from '../providers/body-tap.ts';
import { sseErrorEvent } from '../providers/sse.ts';
import { badSuccess, errorInSuccess } from '../providers/upstream-error.ts';
import { planTargets } from '../routing/plan.ts';
import type { Strategy } from '../routing/routing-health.ts';
import type { Target } from '../routing/target.ts';
import { transportError, type AttemptLimits, type OutboundRequest, type UpstreamBody } from '../upstream/transport.ts';
import { parseJsonObject, readBody } from './body.ts';
import { abortOnClientClose, clientLeft, doneEventAt, sendAfter, StreamWriter } from './client-stream.ts';
import { modelHeaders } from './deprecation-headers.ts';
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
 * and deadline allow. The deadline bounds the whole request, the attempt in flight included, until
 * the answer starts to reach the client. Only the last attempt is metered (the serving one, or the
 * final failure).
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
  // One signal for the attempt in flight: the client leaving aborts it, and so does the deadline
  // (with its own reason, see clientLeft).
  const abort = abortOnClientClose(res);
  const deadlineTimer = setTimeout(
    () =>
      abort.abort(
        new GatewayError('upstream_timeout', `No answer within the routing deadline of ${health.policy.deadline_ms} ms.`, {
          details: { deadline_ms: health.policy.deadline_ms },
        }),
      ),
    Math.max(0, deadline - performance.now()),
  );
  const releaseDeadline = () => clearTimeout(deadlineTimer);
  try {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!;
      if (i > 0) services.metrics.fallbacks.labels(targets[i - 1]!.provider.name, target.provider.name, target.model?.model_id ?? 'unknown').inc();
      const failed = await attempt(call, target, i + 1, res, abort.signal, releaseDeadline);
      if (failed === null) return;
      const again = failed.error.retryable && i < targets.length - 1 && performance.now() < deadline && !abort.signal.aborted;
      services.metrics.attempts.labels(target.provider.name, target.model?.model_id ?? 'unknown', again ? 'retried' : 'failed').inc();
      if (again) continue;
      services.meter.settle(exchange(call, target, i + 1, failed.status, failed.outcome, null, failed.firstByteAt));
      if (failed.outcome === 'aborted') return;
      throw failed.error;
    }
  } finally {
    releaseDeadline();
  }
}

/** This attempt's limits: the deployment's, else the route's, else routing's defaults. */
function attemptLimits(call: UnifiedCall, target: Target): AttemptLimits {
  const { routes, routing } = call.ctx.runtime.config;
  const route = target.model ? routes[target.model.model_id] : undefined;
  const d = route?.deployments.find(
    (d) =>
      d.provider === target.provider.name &&
      (d.credential === null || d.credential === target.credential.id) &&
      (d.upstream_model ?? target.model?.upstream_model) === target.upstreamModel,
  );
  return {
    firstByteMs: d?.first_byte_timeout_ms ?? route?.first_byte_timeout_ms ?? routing.first_byte_timeout_ms,
    idleMs: d?.stream_idle_timeout_ms ?? route?.stream_idle_timeout_ms ?? routing.stream_idle_timeout_ms,
  };
}

/** One attempt on one deployment. Returns null once the caller has its answer (and it is metered). */
async function attempt(
  call: UnifiedCall,
  target: Target,
  n: number,
  res: ServerResponse,
  signal: AbortSignal,
  releaseDeadline: () => void,
): Promise<FailedAttempt | null> {
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
    response = await services.upstream.send(outbound, signal, attemptLimits(call, target));
  } catch (err) {
    const error = transportError(err, target.baseUrl);
    if (clientLeft(signal)) return { error, status: 499, outcome: 'aborted', firstByteAt: null };
    // No head in time (first-byte limit, deadline) or no connection: the deployment's failure.
    observe(null, null);
    return { error, status: error.status, outcome: 'upstream_error', firstByteAt: null };
  }
  const firstByteAt = performance.now();

  if (response.statusCode >= 400) {
    const raw = await response.body.bytes(ERROR_BODY_BYTES).catch(() => Buffer.alloc(0));
    const error = adapter.error(response.statusCode, response.headers, raw);
    observe(response.statusCode, firstByteAt, { retryAfterMs: retryAfterMs(response.headers['retry-after']) });
    return { error, status: response.statusCode, outcome: 'upstream_error', firstByteAt };
  }

  const settle = (outcome: ExchangeOutcome, usage: Usage | null) =>
    services.meter.settle(exchange(call, target, n, outcome === 'aborted' ? 499 : 200, outcome, usage, firstByteAt));
  call.ctx.labels.provider = target.provider.name;
  const headers = { ...call.headers, 'x-tollbooth-provider': target.provider.name, 'x-tollbooth-attempts': String(n) };
  if (call.stream) {
    // The head goes to the client now: from here on, no failover and no deadline (the idle limit
    // between chunks still ends a stalled stream, with an error event).
    releaseDeadline();
    const sse = String(response.headers['content-type'] ?? '').includes('text/event-stream');
    const result = await streamToClient(call, target, adapter, response.body, res, headers, signal, sse);
    observe(200, firstByteAt, { streamFailed: result.outcome === 'truncated' || result.outcome === 'stream_error' });
    services.metrics.attempts.labels(target.provider.name, target.model?.model_id ?? 'unknown', 'served').inc();
    const { written } = settle(result.outcome, result.usage);
    // The end of the stream (its last byte) waits for the charge to be in the ledger file.
    if (!result.clientLeft) await written;
    result.end();
    return null;
  }
  let translated: TranslatedResponse;
  try {
    const raw = await response.body.bytes(call.ctx.runtime.config.limits.max_upstream_body_bytes, true);
    // A 200 that is an error object, or not a response at all: the upstream failed (health, fallback).
    const inBody = errorInSuccess(raw);
    if (inBody) throw badSuccess(target, inBody);
    try {
      translated = adapter.response(call.operation, raw);
    } catch (err) {
      throw isGatewayError(err) ? err : badSuccess(target, null);
    }
  } catch (err) {
    const error = transportError(err, target.baseUrl);
    if (clientLeft(signal)) return { error, status: 499, outcome: 'aborted', firstByteAt };
    observe(null, firstByteAt);
    return { error, status: error.status, outcome: 'upstream_error', firstByteAt };
  }
  releaseDeadline();
  observe(200, firstByteAt);
  services.metrics.attempts.labels(target.provider.name, target.model?.model_id ?? 'unknown', 'served').inc();
  const { written } = settle('ok', translated.usage ?? estimated(call.promptChars, Buffer.byteLength(translated.body)));
  await sendAfter(res, 200, translated.body, headers, written);
  return null;
}

/** An upstream error body is read this far at most (for its message; the rest is not read). */
const ERROR_BODY_BYTES = 64 * 1024;

/** Retry-After as delay-seconds or an HTTP date, in ms. */
function retryAfterMs(value: string | string[] | undefined): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

/**
 * Relays the stream. Once the translator knows how the stream ends (the upstream's last event was
 * read), what follows (the usage chunk, [DONE] — where the SDKs stop reading — or an error event)
 * is held: `end` sends it and ends the response, once the caller has the charge in the ledger file.
 */
async function streamToClient(
  call: UnifiedCall,
  target: Target,
  adapter: ProviderAdapter,
  upstream: UpstreamBody,
  res: ServerResponse,
  headers: Record<string, string>,
  signal: AbortSignal,
  sse: boolean,
): Promise<{ outcome: ExchangeOutcome; usage: Usage | null; clientLeft: boolean; end(): void }> {
  const translator = adapter.stream(call.operation);
  // The translator's parser holds an event until it ends: bounded like any upstream body.
  const limit = call.ctx.runtime.config.limits.max_upstream_body_bytes;
  const backlog = sse ? new SseBacklog(limit) : null;
  let overflow = false;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...headers });
  // The head leaves with the first chunk (one syscall, not two), or on its own if that is slow.
  const flushHead = setTimeout(() => res.flushHeaders(), HEAD_ALONE_AFTER_MS);
  const writer = new StreamWriter(res);
  let firstChunk = true;
  let clientLeft = false;
  let finished = false;
  const held: (string | Uint8Array)[] = [];
  let heldBytes = 0;
  const finish = () => {
    finished = true;
    clearTimeout(flushHead);
    // A stalled or cut upstream ends with the translator's explicit error event, never a clean end.
    const tail = overflow
      ? sseErrorEvent('upstream_response_too_large', `An upstream stream event grew past the limit of ${limit} bytes; the stream was ended.`)
      : translator.finish();
    if (tail.length > 0) held.push(tail);
  };
  try {
    const end = await upstream.forEachChunk((chunk) => {
      if (backlog !== null && !backlog.push(chunk)) {
        overflow = true;
        return false;
      }
      let out = translator.push(chunk);
      if (out.length === 0) return true;
      if (held.length > 0 || translator.outcome !== null) {
        // After the end nothing counts (the SDKs stopped reading at [DONE]); what a hostile upstream
        // sends on is not held without bound.
        heldBytes += out.length;
        if (heldBytes <= HELD_MAX_BYTES) held.push(out);
        return true;
      }
      const done = doneEventAt(out);
      if (done !== -1) {
        held.push(out.slice(done));
        if (done === 0) return true;
        out = out.slice(0, done);
      }
      if (firstChunk) {
        firstChunk = false;
        clearTimeout(flushHead);
        observeFirstChunk(call, target);
      }
      return writer.write(out);
    }, finish);
    clientLeft = end === 'stopped' && !overflow;
  } catch {
    // The upstream body failed mid-way (reset, idle limit) or the client left and aborted it.
    clientLeft = clientLeft || signal.aborted;
  }
  if (!finished) finish();
  const outcome: ExchangeOutcome = clientLeft
    ? 'aborted'
    : overflow
      ? 'truncated'
      : translator.outcome === 'complete'
      ? 'ok'
      : translator.outcome === 'error'
        ? 'stream_error'
        : 'truncated';
  const usage = billedUsage(translator.usage, outcome === 'ok', call.promptChars, translator.generatedChars);
  const end = () => {
    if (!clientLeft) for (const part of held) writer.write(part);
    writer.end();
  };
  return { outcome, usage, clientLeft, end };
}

/** The most of a stream's last bytes held for its charge (the usage chunk and [DONE] are far less). */
const HELD_MAX_BYTES = 64 * 1024;

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
