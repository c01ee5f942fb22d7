/**
 * The OpenTelemetry SDK behind tracing.ts, imported only when traces are on. Spans are parented
 * explicitly (the caller's extracted context, then the request's span): no global context manager,
 * no AsyncLocalStorage, no global registration that could meddle with anything else in the process.
 */
import { defaultTextMapGetter, defaultTextMapSetter, diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { ATTR_SERVICE_INSTANCE_ID } from '@opentelemetry/semantic-conventions/incubating';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayError } from '../errors/catalog.ts';
import type { ExchangeOutcome, UsageRecord } from '../metering/record.ts';
import type { Target } from '../routing/target.ts';
import type { OutboundRequest } from '../upstream/transport.ts';
import type { Logger } from '../util/log.ts';
import { ATTR, genaiOperation, genaiProvider } from './genai.ts';
import type { TraceSettings } from './settings.ts';
import type { AttemptTrace, RequestTrace, TracedExchange, Tracing } from './tracing.ts';

/** Longest the drain waits for the last spans to reach the collector. */
const SHUTDOWN_MS = 5000;
/** One warning per this long while the collector cannot be reached (not one per batch). */
const WARN_EVERY_MS = 60_000;

export class OtelTracing implements Tracing {
  readonly tracer: Tracer;
  readonly propagator = new W3CTraceContextPropagator();
  readonly #provider: NodeTracerProvider;

  constructor(settings: TraceSettings, instance: string, log: Logger) {
    routeDiagnostics(log);
    const version = packageVersion();
    const resource = defaultResource()
      .merge(detectResources({ detectors: [envDetector] }))
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: version, [ATTR_SERVICE_INSTANCE_ID]: instance }));
    // Never register()ed: no global provider, context manager or propagator (see the top comment).
    this.#provider = new NodeTracerProvider({
      resource,
      // Unset: the SDK reads OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on).
      ...(settings.sampleRatio === null ? {} : { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }) }),
      // Headers, timeout, compression: OTEL_EXPORTER_OTLP_(TRACES_)HEADERS etc.; batching: OTEL_BSP_*.
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.endpoint }))],
    });
    this.tracer = this.#provider.getTracer('tollbooth', version);
  }

  request(method: string, path: string, headers: IncomingHttpHeaders, requestId: string): RequestTrace {
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const attributes: Attributes = {
      [ATTR.method]: method,
      [ATTR.urlPath]: path,
      [ATTR.urlScheme]: 'http',
      [ATTR.requestId]: requestId,
    };
    const agent = headers['user-agent'];
    if (agent !== undefined) attributes[ATTR.userAgent] = agent;
    return new OtelRequestTrace(this, this.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes }, parent), method);
  }

  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#provider.shutdown().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}

class OtelRequestTrace implements RequestTrace {
  readonly #otel: OtelTracing;
  readonly #span: Span;
  readonly #method: string;
  #operation = 'chat';
  #stream = false;
  #errorType: string | null = null;
  #ended = false;

  constructor(otel: OtelTracing, span: Span, method: string) {
    this.#otel = otel;
    this.#span = span;
    this.#method = method;
  }

  route(route: string): void {
    this.#span.setAttribute(ATTR.route, route);
    this.#span.updateName(`${this.#method} ${route}`);
  }

  exchange(x: TracedExchange): void {
    this.#operation = genaiOperation(x.operation);
    this.#stream = x.stream;
    const model = x.requestedModel ?? 'unknown';
    const span = this.#span;
    span.updateName(`${this.#operation} ${model}`);
    span.setAttributes({
      [ATTR.operation]: this.#operation,
      [ATTR.tbOperation]: x.operation,
      [ATTR.requestModel]: model,
      [ATTR.stream]: x.stream,
      [ATTR.api]: x.api,
      [ATTR.org]: x.caller.orgId,
    });
    const resolution = x.resolution;
    if (resolution && resolution.chain.length > 1) {
      span.setAttributes({
        [ATTR.requestedStatus]: resolution.requested.status,
        [ATTR.replacement]: resolution.model.model_id,
        [ATTR.chain]: resolution.chain,
      });
    }
  }

  attempt(target: Target, n: number): AttemptTrace {
    const model = target.upstreamModel || target.model?.model_id || 'unknown';
    const span = this.#otel.tracer.startSpan(
      `${this.#operation} ${model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.operation]: this.#operation,
          [ATTR.provider]: genaiProvider(target.provider.name),
          [ATTR.tbProvider]: target.provider.name,
          [ATTR.requestModel]: model,
          [ATTR.stream]: this.#stream,
          [ATTR.attempt]: n,
          // The credential's id (a name in the config), never its secret.
          [ATTR.credential]: target.credential.id,
          [ATTR.billing]: target.credential.billing,
        },
      },
      trace.setSpan(ROOT_CONTEXT, this.#span),
    );
    return new OtelAttemptTrace(this.#otel, span);
  }

  settled(record: UsageRecord): void {
    const span = this.#span;
    span.setAttributes({
      [ATTR.provider]: genaiProvider(record.provider),
      [ATTR.tbProvider]: record.provider,
      [ATTR.responseModel]: record.model ?? record.upstream_model,
      [ATTR.attempts]: record.attempts,
      [ATTR.outcome]: record.outcome,
      ...chargeAttributes(record),
    });
    if (record.outcome !== 'ok') this.#errorType ??= record.outcome;
  }

  failed(error: GatewayError): void {
    this.#errorType = error.code;
  }

  end(status: number): void {
    if (this.#ended) return;
    this.#ended = true;
    const span = this.#span;
    span.setAttribute(ATTR.status, status);
    if (status === 499) this.#errorType ??= 'aborted';
    // Server spans: a 4xx is the caller's doing, not an error of this span (HTTP conventions).
    if (status >= 500) this.#errorType ??= String(status);
    if (this.#errorType !== null) {
      span.setAttribute(ATTR.errorType, this.#errorType);
      if (status >= 500 || this.#errorType === 'truncated' || this.#errorType === 'stream_error') span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}

class OtelAttemptTrace implements AttemptTrace {
  readonly #otel: OtelTracing;
  readonly #span: Span;
  #ended = false;

  constructor(otel: OtelTracing, span: Span) {
    this.#otel = otel;
    this.#span = span;
  }

  send(outbound: OutboundRequest): void {
    const attributes: Attributes = { [ATTR.method]: outbound.method };
    try {
      const url = new URL(outbound.url);
      attributes[ATTR.serverAddress] = url.hostname;
      attributes[ATTR.serverPort] = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
      // No query string: it can carry a key (Gemini's ?key=), and no user info.
      attributes[ATTR.urlFull] = url.origin + url.pathname;
    } catch {
      // A URL the transport will refuse anyway: no address attributes.
    }
    this.#span.setAttributes(attributes);
    this.#otel.propagator.inject(trace.setSpan(ROOT_CONTEXT, this.#span), outbound.headers, defaultTextMapSetter);
  }

  end(status: number | null, outcome: ExchangeOutcome, error: GatewayError | null, record: UsageRecord | null, retried = false): void {
    if (this.#ended) return;
    this.#ended = true;
    const span = this.#span;
    if (status !== null) span.setAttribute(ATTR.status, status);
    span.setAttribute(ATTR.outcome, outcome);
    if (retried) span.setAttribute(ATTR.retried, true);
    if (record !== null && outcome !== 'upstream_error') {
      span.setAttributes({ [ATTR.responseModel]: record.upstream_model, ...chargeAttributes(record) });
    }
    // The client leaving shows as itself, not as the transport error it caused.
    const errorType = outcome === 'aborted' ? 'aborted' : (error?.code ?? (outcome === 'ok' ? null : outcome));
    if (errorType !== null) {
      span.setAttribute(ATTR.errorType, errorType);
      // The caller leaving is no failure of the upstream call.
      if (outcome !== 'aborted') span.setStatus({ code: SpanStatusCode.ERROR, message: error?.message.slice(0, 200) ?? outcome });
    }
    span.end();
  }
}

/** Usage (billable counts, as the conventions prefer) and the charge. */
function chargeAttributes(record: UsageRecord): Attributes {
  const attributes: Attributes = {
    [ATTR.org]: record.org,
    [ATTR.billing]: record.billing,
    [ATTR.credits]: Number(record.credits),
    [ATTR.usageSource]: record.usage_source,
  };
  if (record.usage_source !== 'none') {
    attributes[ATTR.inputTokens] = record.prompt_tokens;
    attributes[ATTR.outputTokens] = record.completion_tokens;
    if (record.cached_tokens > 0) attributes[ATTR.cacheReadTokens] = record.cached_tokens;
    if (record.reasoning_tokens > 0) attributes[ATTR.reasoningTokens] = record.reasoning_tokens;
  }
  if (record.unpriced) attributes[ATTR.unpriced] = true;
  return attributes;
}

/** The SDK's own complaints (an unreachable collector) as an occasional warning in our log. */
function routeDiagnostics(log: Logger): void {
  let last = -Infinity;
  const warn = (message: string) => {
    const now = performance.now();
    if (now - last < WARN_EVERY_MS) return;
    last = now;
    log.warn({ detail: String(message).slice(0, 300) }, 'traces: the OpenTelemetry exporter reported a problem (spans may be dropped)');
  };
  const ignore = () => undefined;
  diag.setLogger({ error: warn, warn, info: ignore, debug: ignore, verbose: ignore }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

/** service.version: package.json sits one level above src/ and dist/ alike (repo and image). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
