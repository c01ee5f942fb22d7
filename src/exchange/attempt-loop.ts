/**
 * The exchange pipeline, the same for every operation: choose the next deployment (routing order,
 * breakers, refused credentials), build its request (the translator), put the credential on, send,
 * observe (health window, breaker, metrics), hand a success to the operation's body handler, meter.
 * Deployments are tried in order while the retry policy allows; only the last attempt is metered
 * (the serving one, or the final failure). The routing deadline bounds the whole request, the
 * attempt in flight included, until the answer starts to reach the client.
 */
import type { ServerResponse } from 'node:http';
import { applyCredential } from '../credentials/backend-auth.ts';
import { GatewayError, isGatewayError } from '../errors/catalog.ts';
import type { ExchangeOutcome } from '../metering/record.ts';
import type { Choice } from '../routing/routing-health.ts';
import type { Target } from '../routing/target.ts';
import { forwardCallerTrace, type AttemptTrace } from '../telemetry/tracing.ts';
import { abortOnClientClose, clientLeft } from './client-stream.ts';
import { transportError } from '../upstream/transport.ts';
import { attemptLimits } from './attempt-limits.ts';
import type { Attempt, ExchangeRequest, FailedAttempt, Prepared } from './exchange-request.ts';
import { meterExchange } from './metering.ts';
import { shouldRetry } from './retry-policy.ts';

export async function runExchange(x: ExchangeRequest, res: ServerResponse): Promise<void> {
  const { health, metrics } = x.ctx.services;
  const trace = x.ctx.trace;
  trace?.exchange(x);
  const { usable, refused, waitMs, rateLimited } = x.pinned ? pinnedChoice(x) : health.choose(x.targets, x.strategy);
  if (usable.length === 0) {
    // Held back only by the providers' own Retry-After: the caller gets that 429, not a 503.
    throw new GatewayError(rateLimited ? 'upstream_rate_limited' : 'no_deployment_available', `No deployment of '${x.requestedModel ?? 'unknown'}' can serve right now (${refused.join('; ')}).`, {
      headers: waitMs === null ? {} : { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
    });
  }
  const targets = usable.length > health.policy.max_attempts ? usable.slice(0, health.policy.max_attempts) : usable;
  const deadlineMs = health.policy.deadline_ms;
  const deadline = x.ctx.startedAt + deadlineMs;
  // One signal for the attempt in flight: the client leaving aborts it, and so does the deadline
  // (with its own reason, see clientLeft).
  const abort = abortOnClientClose(res);
  const deadlineTimer = setTimeout(
    () => abort.abort(new GatewayError('upstream_timeout', `No answer within the routing deadline of ${deadlineMs} ms.`, { details: { deadline_ms: deadlineMs } })),
    Math.max(0, deadline - performance.now()),
  );
  const releaseDeadline = () => clearTimeout(deadlineTimer);
  try {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!;
      const model = target.model?.model_id ?? 'unknown';
      // The deployment in play labels the request from now on, so a failure counts under its provider.
      x.ctx.labels.provider = target.provider.name;
      x.ctx.labels.model = model;
      if (i > 0) metrics.fallbacks.labels(targets[i - 1]!.provider.name, target.provider.name, model).inc();
      // A client span per attempt (tracing on), ended on every path below and in attempt().
      const span = trace?.attempt(target, i + 1) ?? null;
      let failed: FailedAttempt | null;
      try {
        failed = await attempt(x, target, i + 1, res, abort.signal, releaseDeadline, span);
      } catch (err) {
        span?.end(null, 'upstream_error', isGatewayError(err) ? err : null, null);
        throw err;
      }
      if (failed === null) return;
      const again = shouldRetry(failed.error, {
        attempts: i + 1,
        maxAttempts: targets.length,
        deadline,
        aborted: abort.signal.aborted,
        replayable: x.replayable,
      });
      metrics.attempts.labels(target.provider.name, model, again ? 'retried' : 'failed').inc();
      const upstreamStatus = failed.upstream?.status ?? null;
      if (again) {
        span?.end(upstreamStatus, failed.outcome, failed.error, null, true);
        continue;
      }
      const { record } = meterExchange(x, target, i + 1, failed.status, failed.outcome, null, failed.firstByteAt);
      span?.end(upstreamStatus, failed.outcome, failed.error, record);
      trace?.settled(record);
      await x.requestSpent?.();
      if (failed.outcome === 'aborted') return;
      if (x.handler.fail) return x.handler.fail(x, failed, res);
      throw failed.error;
    }
  } finally {
    releaseDeadline();
  }
}

/**
 * One attempt on one deployment. Returns null once the caller has its answer (and it is metered; its
 * span ended); a failure's span is the caller's to end.
 */
async function attempt(
  x: ExchangeRequest,
  target: Target,
  n: number,
  res: ServerResponse,
  signal: AbortSignal,
  releaseDeadline: () => void,
  span: AttemptTrace | null,
): Promise<FailedAttempt | null> {
  const { services } = x.ctx;
  const sentAt = performance.now();
  const observe = (status: number | null, firstByteAt: number | null, streamFailed = false, retryAfter: number | null = null) =>
    services.health.observe(target, {
      status,
      latencyMs: performance.now() - sentAt,
      ttfbMs: firstByteAt === null ? null : firstByteAt - sentAt,
      streamFailed,
      retryAfterMs: retryAfter,
    });
  const failure = (error: GatewayError, firstByteAt: number | null): FailedAttempt => {
    // The client leaving is not the deployment's failure; anything else is (no head in time, no
    // connection, a 200 that is not an answer).
    if (clientLeft(signal)) return { error, status: 499, outcome: 'aborted', firstByteAt };
    observe(null, firstByteAt);
    return { error, status: error.status, outcome: 'upstream_error', firstByteAt };
  };

  let prepared: Prepared;
  try {
    prepared = x.prepare(target);
  } catch (err) {
    // A deployment this build cannot translate: the next one may serve.
    if (isGatewayError(err) && err.retryable) return { error: err, status: 501, outcome: 'upstream_error', firstByteAt: null };
    throw err;
  }
  const { adapter, outbound, context } = prepared;
  // Trace context upstream, before signing (SigV4 signs every header): this attempt's span as the
  // parent when tracing is on, else the caller's own traceparent unchanged (never an invented one).
  if (span !== null) span.send(outbound);
  else forwardCallerTrace(x.ctx.incoming, outbound.headers);
  let response;
  try {
    await applyCredential(target, outbound);
    services.metrics.overhead.labels(x.api).observe((performance.now() - x.ctx.startedAt) / 1000);
    response = await services.upstream.send(outbound, signal, attemptLimits(x.ctx.runtime.config, target));
  } catch (err) {
    return failure(transportError(err, target.baseUrl), null);
  }
  const firstByteAt = performance.now();

  const status = response.statusCode;
  if (status >= 400) {
    const { limit, strict } = x.handler.errorBody(x);
    let raw: Buffer;
    try {
      raw = await response.body.bytes(limit, strict);
    } catch (err) {
      if (strict) {
        // Past the limit (or cut): not relayed, but still the upstream's own error status.
        const error = transportError(err, target.baseUrl);
        if (clientLeft(signal)) return { error, status: 499, outcome: 'aborted', firstByteAt };
        observe(status, firstByteAt);
        return { error, status, outcome: 'upstream_error', firstByteAt, upstream: { status, headers: response.headers, raw: null } };
      }
      raw = Buffer.alloc(0);
    }
    const error = adapter.error(status, response.headers, raw);
    observe(status, firstByteAt, false, retryAfterMs(response.headers['retry-after']));
    return { error, status, outcome: 'upstream_error', firstByteAt, upstream: { status, headers: response.headers, raw } };
  }

  const a: Attempt = {
    x,
    target,
    n,
    adapter,
    context,
    response,
    firstByteAt,
    signal,
    clientHeaders: { ...x.headers, 'x-tollbooth-provider': target.provider.name, 'x-tollbooth-attempts': String(n) },
    commit: releaseDeadline,
  };
  const result = await x.handler.serve(a, res);
  if (!result.served) return failure(result.error, firstByteAt);
  releaseDeadline();
  const outcome: ExchangeOutcome = result.outcome;
  // A client that left says nothing about the deployment; a stream that failed or was cut does.
  if (outcome !== 'aborted') observe(status, firstByteAt, outcome === 'truncated' || outcome === 'stream_error');
  services.metrics.attempts.labels(target.provider.name, target.model?.model_id ?? 'unknown', 'served').inc();
  const { record, written } = meterExchange(x, target, n, result.status, outcome, result.usage, firstByteAt);
  span?.end(status, outcome, null, record);
  x.ctx.trace?.settled(record);
  await x.requestSpent?.();
  await result.finish(written);
  return null;
}

/**
 * The caller named the deployment itself (passthrough): there is nothing to route to instead, so
 * breakers and refused credentials are fed but not consulted; the caller's SDK gets the provider's
 * own answer (its 429 with Retry-After, its 5xx) rather than the gateway's 503.
 */
function pinnedChoice(x: ExchangeRequest): Choice {
  return { usable: x.targets, refused: [], waitMs: null, rateLimited: false };
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
